//! Shared by the `proxy_*` tests: the whole stack on 127.0.0.1 in one process. The local
//! endpoint (in-memory SQLite), an OpenAI-compatible loopback upstream (the examples' demo
//! provider, or one a test brings), a `Humanloop` sending logs to the endpoint, the
//! proxy's router served on a free port, and a global subscriber with the hierarchy layer
//! and an in-memory OpenTelemetry exporter. One test per file: the subscriber is global.
#![allow(dead_code)]

#[path = "../../examples/support/demo_provider.rs"]
pub mod demo_provider;

use std::time::Duration;

use bytes::Bytes;
use humanloop_tracing::proxy::{Proxy, ProxyConfig};
use humanloop_tracing::server::{self, ServerConfig, ServerHandle};
use humanloop_tracing::{Config, ConfigBuilder, Humanloop};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

/// A provider key the tests plant in requests; it must appear in no log and no span.
pub const PROVIDER_KEY: &str = "sk-PLANT-proxy-client-key-7c1e09";

pub struct Stack {
    pub hl: Humanloop,
    pub proxy: Proxy,
    /// `http://127.0.0.1:P`, where the proxy listens.
    pub proxy_url: String,
    pub endpoint: ServerHandle,
    pub spans: InMemorySpanExporter,
    pub provider: SdkTracerProvider,
}

/// GET `url`, asserting a 200; its JSON body.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    resp.json().await.unwrap()
}

/// The demo provider's base URL (`http://127.0.0.1:P/v1`).
pub async fn demo_upstream() -> String {
    demo_provider::start().await.expect("demo provider starts")
}

/// The stack with the proxy built by `proxy` (given a fresh [`ProxyConfig`]).
pub async fn start(proxy: impl FnOnce(ProxyConfig) -> ProxyConfig) -> Stack {
    start_with(Config::builder(), proxy).await
}

/// [`start`] with a `Humanloop` configuration of the test's own (completed with the
/// endpoint's URL and a project).
pub async fn start_with(
    config: ConfigBuilder,
    proxy: impl FnOnce(ProxyConfig) -> ProxyConfig,
) -> Stack {
    // The tests' own reqwest clients need a provider; the proxy itself installs none.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let endpoint = server::spawn(ServerConfig::in_memory(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("endpoint starts");
    let hl = Humanloop::new(
        config
            .base_url(endpoint.base_url())
            .project("proxy-tests")
            .build()
            .unwrap(),
    )
    .unwrap();
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("proxy-tests")))
        // The exporter's warnings (a refused log, say) show in a failing test's output.
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::filter::LevelFilter::WARN),
        );
    tracing::subscriber::set_global_default(subscriber).expect("one test per file");
    let proxy = Proxy::new(hl.layer(), proxy(ProxyConfig::new())).expect("proxy builds");
    let proxy_url = serve(&proxy).await;
    Stack {
        hl,
        proxy,
        proxy_url,
        endpoint,
        spans,
        provider,
    }
}

/// Serve `proxy` on a free loopback port; answers `http://127.0.0.1:P`.
pub async fn serve(proxy: &Proxy) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = proxy.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

impl Stack {
    /// Every log the endpoint holds, once at least `n` arrived (flushing first).
    pub async fn logs(&self, n: usize) -> Vec<Value> {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let _ = self.hl.flush(Duration::from_secs(5)).await;
            let body = get_json(
                &http,
                &format!("{}/logs?size=100", self.endpoint.base_url()),
            )
            .await;
            let records = body["records"].as_array().cloned().unwrap_or_default();
            if records.len() >= n || tokio::time::Instant::now() > deadline {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The finished OpenTelemetry spans of LLM calls (those with `gen_ai.operation.name`).
    pub fn llm_spans(&self) -> Vec<SpanData> {
        self.hl.flush_spans();
        let _ = self.provider.force_flush();
        self.spans
            .get_finished_spans()
            .unwrap()
            .into_iter()
            // Inference spans: the hierarchy's agent/tool spans carry an operation too.
            .filter(|s| {
                attr(s, "gen_ai.operation.name")
                    .is_some_and(|op| op != "invoke_agent" && op != "execute_tool")
            })
            .collect()
    }
}

/// A span attribute as a string.
pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Everything the spans hold, as text, to search for secrets.
pub fn spans_text(spans: &[SpanData]) -> String {
    format!("{spans:?}")
}

/// What a stand-in upstream saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: http::Method,
    pub uri: http::Uri,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

/// A stand-in upstream on a free loopback port (HTTP/1.1), answering with `answer`;
/// every request it got, body read whole, goes to the returned channel. Answers
/// `http://127.0.0.1:P`.
pub async fn upstream_fn<F, Fut>(answer: F) -> (String, tokio::sync::mpsc::UnboundedReceiver<Seen>)
where
    F: Fn(Seen) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    use http_body_util::BodyExt;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |req: axum::extract::Request| {
        let (answer, tx) = (answer.clone(), tx.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method,
                uri: parts.uri,
                version: parts.version,
                headers: parts.headers,
                body,
            };
            let _ = tx.send(seen.clone());
            answer(seen).await
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(handler)).await;
    });
    (format!("http://{addr}"), rx)
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A streaming stand-in upstream: each request answers `200 text/event-stream` at once,
/// and hands the test the sender of its body, so the test decides when each chunk
/// leaves. `tx.closed()` resolves when the proxy dropped the upstream response.
pub async fn streaming_upstream() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<tokio::sync::mpsc::Sender<Bytes>>,
) {
    let (senders_tx, senders) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |_req: axum::extract::Request| {
        let senders_tx = senders_tx.clone();
        async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
            let _ = senders_tx.send(tx);
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
            });
            http::Response::builder()
                .header("content-type", "text/event-stream")
                .body(axum::body::Body::from_stream(stream))
                .unwrap()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().fallback(handler)).await;
    });
    (format!("http://{addr}"), senders)
}

/// One OpenAI chat stream chunk carrying `text`, as an SSE frame.
pub fn chunk(text: &str) -> Bytes {
    Bytes::from(format!(
        "data: {}\n\n",
        serde_json::json!({
            "id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
        })
    ))
}

/// A streaming chat request body.
pub fn stream_request() -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": true,
        "messages": [{"role": "user", "content": "Say hello"}]
    })
}
