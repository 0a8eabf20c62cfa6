//! The fake LLM provider: one axum server on 127.0.0.1 serving fixture bytes, chosen per
//! request by headers (or a default fixture), recording every request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::fixtures::fixture;

/// What the provider server serves, chosen per request by headers:
/// `x-fixture: openai/chat_basic.json` (`.sse` → `text/event-stream`), `x-status`,
/// `x-content-encoding`, `x-chunk` (bytes per body chunk, default 64).
/// Without `x-fixture` it serves its default fixture, or `not an LLM` when it has none.
#[derive(Clone, Default)]
pub struct Provider {
    pub addr: Option<SocketAddr>,
    /// Served when a request names no fixture.
    pub default_fixture: Option<&'static str>,
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
    let Some(name) = h("x-fixture").or(p.default_fixture.map(str::to_owned)) else {
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
    start(Provider::default()).await
}

/// The documented chat answer every request gets (no headers needed).
pub const CHAT_FIXTURE: &str = "openai/chat_basic.json";

/// Start a provider answering every request (any path) with [`CHAT_FIXTURE`].
pub async fn chat_provider() -> Provider {
    start(Provider {
        default_fixture: Some(CHAT_FIXTURE),
        ..Provider::default()
    })
    .await
}

/// [`chat_provider`]'s chat completions URL.
pub async fn chat_url() -> String {
    chat_provider().await.url("/v1/chat/completions")
}

async fn start(mut p: Provider) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    p.addr = Some(listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(serve_fixture)
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    p
}
