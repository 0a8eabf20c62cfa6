//! rig-core 0.44 through rig-reqwest's `ReqwestMiddlewareClient` with `hl.middleware()`,
//! against an Anthropic-compatible server on 127.0.0.1.
//!
//! * rig stops reading at the `message_delta` that carries the stop reason and drops the
//!   body; the server holds `message_stop` back for seconds. The call is logged complete,
//!   not `cancelled` (issue item 4).
//! * rig emits its own GenAI `chat` span with usage; the crate's span under it carries no
//!   `gen_ai.operation.name` and no usage, so a backend summing tokens over inference
//!   spans counts them once. The log keeps the usage (issue item 3).

#[path = "it/harness/mod.rs"]
mod harness;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};
use rig_core::completion::CompletionRequest;
use rig_core::providers::anthropic::AnthropicConfig;
use rig_reqwest::ReqwestMiddlewareClient;

/// How long the server holds `message_stop` back after `message_delta`.
const HOLD: Duration = Duration::from_secs(5);

/// `POST /v1/messages`: the fixture stream up to `message_delta`, then `message_stop` after
/// [`HOLD`].
async fn anthropic_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/v1/messages",
        axum::routing::post(|| async {
            let chunks = sse_chunks("anthropic/stream_basic.sse");
            let (head, stop) = chunks.split_at(7);
            let stop = stop.to_vec();
            let first = futures_util::stream::iter(
                head.iter()
                    .cloned()
                    .map(Ok::<Bytes, std::io::Error>)
                    .collect::<Vec<_>>(),
            );
            let last = futures_util::stream::once(async move {
                tokio::time::sleep(HOLD).await;
                Ok::<Bytes, std::io::Error>(Bytes::from(stop.concat()))
            });
            use futures_util::StreamExt;
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(first.chain(last)))
                .unwrap()
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The three lines a user writes.
fn rig_client(
    hl: &humanloop_tracing::Humanloop,
    base: &str,
) -> rig_core::providers::anthropic::Anthropic {
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    AnthropicConfig::new("sk-ant-test")
        .with_base_url(base)
        .connect(ReqwestMiddlewareClient::from(http))
}

async fn ask(hl: &humanloop_tracing::Humanloop, base: &str) -> String {
    let model = rig_client(hl, base).completion("claude-opus-4-1-20250805");
    let started = Instant::now();
    let reply = model
        .stream(CompletionRequest::from("Hi").max_tokens(64))
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert!(
        started.elapsed() < HOLD,
        "rig waited for message_stop: this test no longer shows the early stop"
    );
    reply.text()
}

// One test, run in order: thread-local subscribers in parallel tests share tracing's
// callsite interest across threads.
#[tokio::test(flavor = "current_thread")]
async fn rig_anthropic() {
    stream_ending_at_stop_reason_is_complete().await;
    chat_span_is_the_only_inference_span().await;
    nested_span_rule_leaves_plain_calls_alone().await;
}

async fn stream_ending_at_stop_reason_is_complete() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let base = anthropic_server().await;
    assert_eq!(ask(&hl, &base).await, "Hello!");
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let log = &logs[0];
    assert!(log.get("error").is_none(), "logged as failed: {log:#?}");
    assert_eq!(log["output"], "Hello!");
    assert_eq!(log["output_tokens"], 15);
}

async fn chat_span_is_the_only_inference_span() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = otel_with_hierarchy(&hl);
    let base = anthropic_server().await;
    assert_eq!(ask(&hl, &base).await, "Hello!");

    let spans = otel.spans();
    let with_usage: Vec<_> = spans
        .iter()
        .filter(|s| attrs(s).contains_key("gen_ai.usage.output_tokens"))
        .collect();
    assert_eq!(
        with_usage.len(),
        1,
        "tokens would be counted twice: {:#?}",
        spans
            .iter()
            .map(|s| (&s.name, attrs(s)))
            .collect::<Vec<_>>()
    );
    let inference = otel.genai_spans();
    assert_eq!(inference.len(), 1, "one inference span: rig's");
    let rig_span = &inference[0];
    let ours: Vec<_> = spans
        .iter()
        .filter(|s| attrs(s).contains_key("humanloop.inference.nested"))
        .collect();
    assert_eq!(ours.len(), 1, "the crate's span is there, marked");
    let a = attrs(ours[0]);
    assert_eq!(
        a["humanloop.inference.nested"],
        opentelemetry::Value::Bool(true)
    );
    assert!(!a.contains_key("gen_ai.operation.name"));
    assert!(!a.contains_key("error.type"), "{a:#?}");
    assert_eq!(
        ours[0].parent_span_id,
        rig_span.span_context.span_id(),
        "under rig's span"
    );
    // The log is the crate's own record: usage and output stay there.
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs[0]["output_tokens"], 15);
    assert_eq!(logs[0]["prompt_tokens"], 25);
}

async fn nested_span_rule_leaves_plain_calls_alone() {
    // Outside any GenAI span the crate's span is the inference span, with usage.
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = otel();
    let p = provider().await;
    let req = Req::post(
        p.url("/v1/messages"),
        fixture("anthropic/request_tools.json"),
    )
    .header("x-fixture", "anthropic/message_basic.json");
    send(Adapter::Reqwest, &hl, req).await;
    let span = otel.genai_span();
    let a = attrs(&span);
    assert_eq!(a["gen_ai.operation.name"], s("chat"));
    assert!(a.contains_key("gen_ai.usage.input_tokens"));
    assert!(!a.contains_key("humanloop.inference.nested"));
}
