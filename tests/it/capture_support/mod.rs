//! Shared by the capture tests: a provider server on 127.0.0.1 serving fixture bytes, a
//! log endpoint recording `POST /logs`, an in-memory OpenTelemetry pipeline, and both
//! adapters (reqwest middleware, tower layer over hyper-util's legacy client).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use humanloop_tracing::{ConfigBuilder, Humanloop};
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::Value as Json;
use tracing_subscriber::layer::SubscriberExt;

/// The bytes of `tests/fixtures/{path}`.
pub fn fixture(path: &str) -> Bytes {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
}

/// An in-memory OpenTelemetry pipeline, installed as this thread's subscriber (tests
/// run on a current-thread runtime, so every span of the test is seen here).
pub struct Otel {
    pub exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _guard: tracing::subscriber::DefaultGuard,
}

pub fn otel() -> Otel {
    otel_inner(None)
}

/// [`otel`] with `hl`'s hierarchy layer (sessions, steps, sampling) installed too.
pub fn otel_with_hierarchy(hl: &Humanloop) -> Otel {
    otel_inner(Some(hl))
}

fn otel_inner(hl: Option<&Humanloop>) -> Otel {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("capture-tests");
    let subscriber = tracing_subscriber::registry()
        .with(hl.map(|hl| hl.tracing_layer()))
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    let guard = tracing::subscriber::set_default(subscriber);
    Otel {
        exporter,
        provider,
        _guard: guard,
    }
}

impl Otel {
    /// Finished spans so far.
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap()
    }

    /// The finished GenAI inference spans (`gen_ai.operation.name` other than the
    /// hierarchy's `invoke_agent` and `execute_tool`).
    pub fn genai_spans(&self) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| {
                s.attributes.iter().any(|kv| {
                    kv.key.as_str() == "gen_ai.operation.name"
                        && !matches!(kv.value.as_str().as_ref(), "invoke_agent" | "execute_tool")
                })
            })
            .collect()
    }

    /// The one finished GenAI span.
    pub fn genai_span(&self) -> SpanData {
        let mut spans = self.genai_spans();
        assert_eq!(spans.len(), 1, "expected one GenAI span, got {spans:#?}");
        spans.remove(0)
    }
}

/// A span's attributes by key (a repeated key would be a bug: asserted here).
pub fn attrs(span: &SpanData) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for kv in &span.attributes {
        let prev = out.insert(kv.key.as_str().to_owned(), kv.value.clone());
        assert!(prev.is_none(), "attribute {} recorded twice", kv.key);
    }
    out
}

pub fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

pub fn s(v: &str) -> Value {
    Value::from(v.to_owned())
}

pub fn i(v: i64) -> Value {
    Value::I64(v)
}

pub fn strings(v: &[&str]) -> Value {
    Value::Array(opentelemetry::Array::String(
        v.iter().map(|s| (*s).to_owned().into()).collect(),
    ))
}

/// What the provider server serves, chosen per request by headers:
/// `x-fixture: openai/chat_basic.json` (`.sse` → `text/event-stream`), `x-status`,
/// `x-content-encoding`, `x-chunk` (bytes per body chunk, default 64).
#[derive(Clone, Default)]
pub struct Provider {
    pub addr: Option<SocketAddr>,
    /// Every request received: (path and query, headers, body).
    pub requests: Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>,
}

impl Provider {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr.unwrap())
    }
}

async fn serve_fixture(
    State(p): State<Provider>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    p.requests
        .lock()
        .unwrap()
        .push((uri.to_string(), headers.clone(), body));
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(name) = h("x-fixture") else {
        return (StatusCode::OK, "not an LLM").into_response();
    };
    let bytes = fixture(&name);
    let status = h("x-status").and_then(|s| s.parse().ok()).unwrap_or(200u16);
    let chunk: usize = h("x-chunk").and_then(|s| s.parse().ok()).unwrap_or(64);
    let content_type = if name.ends_with(".sse") {
        "text/event-stream"
    } else if name.ends_with(".ndjson") {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let pieces: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(enc) = h("x-content-encoding") {
        builder = builder.header("content-encoding", enc);
    }
    builder
        .body(AxumBody::from_stream(futures_util::stream::iter(pieces)))
        .unwrap()
}

/// Start the provider server.
pub async fn provider() -> Provider {
    let mut p = Provider::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    p.addr = Some(listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(serve_fixture)
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    p
}

/// A log endpoint storing every log POSTed to `{base}/logs`.
#[derive(Clone, Default)]
pub struct LogSink {
    pub addr: Option<SocketAddr>,
    pub logs: Arc<Mutex<Vec<Json>>>,
}

impl LogSink {
    pub fn base_url(&self) -> String {
        format!("http://{}/v4", self.addr.unwrap())
    }

    pub fn logs(&self) -> Vec<Json> {
        self.logs.lock().unwrap().clone()
    }
}

async fn record_logs(State(sink): State<LogSink>, body: Bytes) -> Response {
    let v: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
    let answer = |n: usize| serde_json::json!({"id": format!("data_{n}"), "project_id": "pr_1", "session_id": "sesh_1"});
    let mut logs = sink.logs.lock().unwrap();
    let reply = match v {
        Json::Array(items) => {
            let out: Vec<Json> = items
                .into_iter()
                .map(|item| {
                    logs.push(item);
                    answer(logs.len())
                })
                .collect();
            Json::Array(out)
        }
        item => {
            logs.push(item);
            answer(logs.len())
        }
    };
    axum::Json(reply).into_response()
}

pub async fn log_sink() -> LogSink {
    let mut sink = LogSink::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sink.addr = Some(listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/v4/logs",
            axum::routing::post(record_logs).patch(|| async { "{}" }),
        )
        .with_state(sink.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sink
}

/// A `Humanloop` logging to `sink`, configured further by `f`.
pub fn humanloop(sink: &LogSink, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Humanloop {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = humanloop_tracing::Config::builder()
        .base_url(sink.base_url())
        .api_key("hl-test-key")
        .project("capture-tests")
        .schedule_delay(Duration::from_millis(10));
    Humanloop::new(f(builder).build().unwrap()).unwrap()
}

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
    let _ = rustls::crypto::ring::default_provider().install_default();
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

/// Send `req` through `adapter` and read the whole response.
pub async fn send(adapter: Adapter, hl: &Humanloop, req: Req) -> Received {
    match adapter {
        Adapter::Reqwest => {
            let client = reqwest_client(hl);
            let mut b = client.post(&req.url).body(req.body.clone());
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            let resp = b.send().await.unwrap();
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

/// Wait for the logs to reach the sink.
pub async fn flushed_logs(hl: &Humanloop, sink: &LogSink, expected: usize) -> Vec<Json> {
    let _ = hl.flush(Duration::from_secs(10)).await;
    for _ in 0..200 {
        if sink.logs().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sink.logs()
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
            let client = reqwest_client(hl);
            let mut b = client.post(&req.url).body(req.body.clone());
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            let resp = b.send().await.unwrap();
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

/// The SSE events of a fixture, each with its terminating blank line.
pub fn sse_chunks(name: &str) -> Vec<Bytes> {
    let all = fixture(name);
    let text = std::str::from_utf8(&all).unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = text[start..].find("\n\n") {
        let end = start + i + 2;
        out.push(all.slice(start..end));
        start = end;
    }
    if start < all.len() {
        out.push(all.slice(start..));
    }
    out
}

/// (attributes, count, sum as f64, bounds) of every data point of histogram `name`.
pub fn points(
    exporter: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
    name: &str,
) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, HistogramDataPoint, MetricData};
    fn take<'a, T: Copy + 'a>(
        dps: impl Iterator<Item = &'a HistogramDataPoint<T>>,
        to_f64: fn(T) -> f64,
    ) -> Vec<(Vec<KeyValue>, u64, f64, Vec<f64>)> {
        dps.map(|dp| {
            let mut attrs: Vec<KeyValue> = dp.attributes().cloned().collect();
            attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            (attrs, dp.count(), to_f64(dp.sum()), dp.bounds().collect())
        })
        .collect()
    }
    let mut out = Vec::new();
    for rm in exporter.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics().filter(|m| m.name() == name) {
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        out.extend(take(h.data_points(), |v| v))
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        out.extend(take(h.data_points(), |v| v as f64))
                    }
                    other => panic!("{name}: not a histogram: {other:?}"),
                }
            }
        }
    }
    out
}

pub fn get(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}
