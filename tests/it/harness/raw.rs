//! A hand-written HTTP/1.1 server on 127.0.0.1 for the endpoint client's tests: it records each
//! request (with the tokio clock's time of arrival) and plays scripted answers, writing
//! bodies in separate TCP writes with pauses in between, so the client sees events split
//! across reads exactly where the script splits them.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::error::TransportKind;
use humanloop_tracing::{Client, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Assert that `err` is an [`Error::Transport`] of `kind`.
pub fn assert_transport(err: &Error, kind: TransportKind) {
    assert!(
        matches!(err, Error::Transport { kind: k, .. } if *k == kind),
        "{err:?}"
    );
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the head arrived, on the tokio clock (paused in some tests).
    pub at: tokio::time::Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A whole answer with `Content-Length`.
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// A close-delimited body written piece by piece, with a pause before each piece;
    /// the connection is closed after the last piece.
    Pieces {
        status: u16,
        content_type: &'static str,
        pieces: Vec<Vec<u8>>,
        pause: Duration,
    },
    /// A chunked body whose pieces are sent, then the connection is dropped without the
    /// terminating chunk: an aborted transfer.
    ChunkedAbort {
        pieces: Vec<Vec<u8>>,
        pause: Duration,
    },
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: serde_json::to_vec(&body).unwrap(),
        }
    }
    pub fn text(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type", "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }
    pub fn sse(pieces: &[&str], pause: Duration) -> Reply {
        Reply::Pieces {
            status: 200,
            content_type: "text/event-stream",
            pieces: pieces.iter().map(|p| p.as_bytes().to_vec()).collect(),
            pause,
        }
    }
}

/// The server: answers requests with the scripted replies in order (the last one repeats).
pub struct RawServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    /// Start on 127.0.0.1 inside the current runtime (so it shares a paused clock).
    pub async fn start(script: Vec<Reply>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let _ = sock.set_nodelay(true);
                let recorded = recorded.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, recorded, script).await;
                });
            }
        });
        RawServer {
            addr,
            requests,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut sock: TcpStream,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let at = tokio::time::Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().to_owned();
    let target = start.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    recorded.lock().unwrap().push(Recorded {
        method,
        target,
        headers,
        body,
        at,
    });
    let reply = {
        let mut script = script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().expect("a scripted reply")
        }
    };
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-length: {}\r\n",
                body.len()
            );
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str("\r\n");
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&body).await?;
        }
        Reply::Pieces {
            status,
            content_type,
            pieces,
            pause,
        } => {
            let out = format!(
                "HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-type: {content_type}\r\n\r\n"
            );
            sock.write_all(out.as_bytes()).await?;
            sock.flush().await?;
            for piece in pieces {
                tokio::time::sleep(pause).await;
                sock.write_all(&piece).await?;
                sock.flush().await?;
            }
        }
        Reply::ChunkedAbort { pieces, pause } => {
            let out = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            sock.write_all(out.as_bytes()).await?;
            sock.flush().await?;
            for piece in pieces {
                tokio::time::sleep(pause).await;
                sock.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                sock.write_all(&piece).await?;
                sock.write_all(b"\r\n").await?;
                sock.flush().await?;
            }
            // No terminating `0\r\n\r\n`: the transfer is cut.
        }
    }
    sock.shutdown().await?;
    Ok(())
}

/// A client of `base_url` with key `hl-test-key` and fast retries.
pub fn client(base_url: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .api_key("hl-test-key")
        .retry(fast_retries(5))
        .build()
        .unwrap()
}

/// A policy with millisecond backoffs, so real-time tests stay short.
pub fn fast_retries(max_attempts: u32) -> RetryPolicy {
    let mut p = RetryPolicy::default();
    p.max_attempts = max_attempts;
    p.initial_backoff = Duration::from_millis(1);
    p.max_backoff = Duration::from_millis(20);
    p
}

/// A client of a wiremock server's `/v4` with the default configuration.
pub fn client_of(server: &wiremock::MockServer) -> Client {
    Client::builder()
        .base_url(format!("{}/v4", server.uri()))
        .build()
        .unwrap()
}

/// Streams `request` through `client` (the call must succeed) and collects its samples.
async fn collect(
    client: &Client,
    request: &humanloop_tracing::api::CompletionModelConfigRequest,
) -> Result<Vec<humanloop_tracing::client::Sample>, humanloop_tracing::Error> {
    client
        .completion_model_config_stream(request)
        .await
        .unwrap()
        .collect_samples()
        .await
}

/// [`collect`]'s samples (collecting must succeed).
pub async fn collected(
    client: &Client,
    request: &humanloop_tracing::api::CompletionModelConfigRequest,
) -> Vec<humanloop_tracing::client::Sample> {
    collect(client, request).await.unwrap()
}

/// The error [`collect`] ends with.
pub async fn collect_error(
    client: &Client,
    request: &humanloop_tracing::api::CompletionModelConfigRequest,
) -> humanloop_tracing::Error {
    collect(client, request).await.unwrap_err()
}

/// A client of a wiremock server's `/v4` with `key`, otherwise the default configuration.
pub fn client_with_key(server: &wiremock::MockServer, key: &str) -> Client {
    Client::builder()
        .base_url(format!("{}/v4", server.uri()))
        .api_key(key)
        .build()
        .unwrap()
}
