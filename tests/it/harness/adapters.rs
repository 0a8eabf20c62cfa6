//! Both adapters (reqwest middleware, tower layer over hyper-util's legacy client), the
//! requests sent through them, and one-off servers whose answers the test controls.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body as AxumBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use humanloop_tracing::Humanloop;

/// The two adapters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    Reqwest,
    Tower,
}

pub const ADAPTERS: [Adapter; 2] = [Adapter::Reqwest, Adapter::Tower];

/// A whole response as the caller saw it.
#[derive(Debug)]
pub struct Received {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A request to send.
pub struct Req {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Req {
    pub fn post(url: String, body: impl Into<Bytes>) -> Self {
        Req {
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

pub fn reqwest_client(hl: &Humanloop) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build()
}

pub type HyperClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

pub fn tower_client(hl: &Humanloop) -> humanloop_tracing::HumanloopService<HyperClient> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    tower::ServiceBuilder::new()
        .layer(hl.layer())
        .service(client)
}

pub fn http_request(req: &Req) -> http::Request<Full<Bytes>> {
    let mut b = http::Request::post(&req.url);
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    b.body(Full::new(req.body.clone())).unwrap()
}

/// Send `req` through `hl.middleware()`; the response, unread.
async fn via_reqwest(hl: &Humanloop, req: &Req) -> reqwest::Response {
    let mut b = reqwest_client(hl).post(&req.url).body(req.body.clone());
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    b.send().await.unwrap()
}

/// Send `req` through `adapter` and read the whole response.
pub async fn send(adapter: Adapter, hl: &Humanloop, req: Req) -> Received {
    match adapter {
        Adapter::Reqwest => {
            let resp = via_reqwest(hl, &req).await;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap();
            Received {
                status,
                headers,
                body,
            }
        }
        Adapter::Tower => {
            use tower::ServiceExt;
            let resp = tower_client(hl).oneshot(http_request(&req)).await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            Received {
                status,
                headers,
                body,
            }
        }
    }
}

/// A one-off server answering every request with `status`, `headers` and `body` (sent
/// in pieces of `chunk` bytes).
pub async fn serve_bytes(
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Bytes,
    chunk: usize,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        let headers = headers.clone();
        async move {
            let pieces: Vec<Result<Bytes, std::io::Error>> = body
                .chunks(chunk.max(1))
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut b = Response::builder().status(status);
            for (k, v) in headers {
                b = b.header(k, v);
            }
            b.body(AxumBody::from_stream(futures_util::stream::iter(pieces)))
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A server whose one streaming answer is fed by the test, chunk by chunk, through the
/// returned sender; `arrived` is notified when the request reaches the server.
pub struct StreamServer {
    pub addr: SocketAddr,
    pub chunks: tokio::sync::mpsc::Sender<Bytes>,
    pub arrived: Arc<tokio::sync::Notify>,
}

pub async fn stream_server(content_type: &'static str) -> StreamServer {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let notify = arrived.clone();
    let app = axum::Router::new().fallback(move || {
        let rx = rx.lock().unwrap().take();
        let notify = notify.clone();
        async move {
            notify.notify_one();
            let Some(rx) = rx else {
                return StatusCode::GONE.into_response();
            };
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
            });
            Response::builder()
                .header("content-type", content_type)
                .body(AxumBody::from_stream(stream))
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StreamServer {
        addr,
        chunks: tx,
        arrived,
    }
}

/// A response body the caller reads frame by frame.
pub enum CallerStream {
    Reqwest(reqwest::Response),
    Tower(humanloop_tracing::TeeBody<hyper::body::Incoming>),
}

impl CallerStream {
    /// The next data frame, `None` at the end.
    pub async fn next(&mut self) -> Option<Bytes> {
        match self {
            CallerStream::Reqwest(r) => r.chunk().await.unwrap(),
            CallerStream::Tower(b) => loop {
                match b.frame().await {
                    None => return None,
                    Some(f) => {
                        if let Ok(data) = f.unwrap().into_data() {
                            return Some(data);
                        }
                    }
                }
            },
        }
    }

    /// Read until `n` bytes in all have arrived.
    pub async fn read_exact(&mut self, n: usize) -> Bytes {
        let mut out = bytes::BytesMut::new();
        while out.len() < n {
            let chunk = self.next().await.expect("stream ended early");
            out.extend_from_slice(&chunk);
        }
        out.freeze()
    }
}

/// Send `req` through `adapter` and return the response head's status and the body
/// to read.
pub async fn open(adapter: Adapter, hl: &Humanloop, req: Req) -> (u16, CallerStream) {
    match adapter {
        Adapter::Reqwest => {
            let resp = via_reqwest(hl, &req).await;
            (resp.status().as_u16(), CallerStream::Reqwest(resp))
        }
        Adapter::Tower => {
            use tower::ServiceExt;
            let resp = tower_client(hl).oneshot(http_request(&req)).await.unwrap();
            (
                resp.status().as_u16(),
                CallerStream::Tower(resp.into_body()),
            )
        }
    }
}
