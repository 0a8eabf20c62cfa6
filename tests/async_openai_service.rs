//! async-openai 0.43 (its `middleware` feature) with `hl.async_openai_service(..)`, against
//! an OpenAI-compatible server on 127.0.0.1: a plain call and a stream are traced and
//! logged; a call that async-openai's own retry layer repeats after three 429s is four
//! logged attempts linked as one call (`retry_attempt` 1..=4, one `retry_group`,
//! `http.request.resend_count` on the retries).

#[path = "it/harness/mod.rs"]
mod harness;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use harness::{endpoint::*, fixtures::*, otel::*};
use serde_json::Value as Json;

/// An OpenAI-compatible server: `/v1/chat/completions` answers the first `fail_first`
/// requests with 429 (`Retry-After: 0`), then the fixture (a stream when asked for one).
async fn openai_server(fail_first: usize) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |body: Bytes| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < fail_first {
                    let err = r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
                    return Response::builder()
                        .status(StatusCode::TOO_MANY_REQUESTS)
                        .header("content-type", "application/json")
                        .header("retry-after", "0")
                        .body(axum::body::Body::from(err))
                        .unwrap();
                }
                let req: Json = serde_json::from_slice(&body).unwrap();
                if req["stream"] == true {
                    Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(axum::body::Body::from(fixture(
                            "openai/chat_stream_include_usage.sse",
                        )))
                        .unwrap()
                } else {
                    (
                        [("content-type", "application/json")],
                        fixture("openai/chat_basic.json"),
                    )
                        .into_response()
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

fn request() -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("Hello!")
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap()
}

fn client(hl: &humanloop_tracing::Humanloop, base: &str) -> Client<OpenAIConfig> {
    // The three lines a user writes.
    let config = OpenAIConfig::new()
        .with_api_base(base)
        .with_api_key("sk-test");
    Client::with_config(config).with_http_service(hl.async_openai_service(reqwest::Client::new()))
}

#[tokio::test(flavor = "current_thread")]
async fn async_openai_plain_call_is_traced_and_logged() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = otel_with_hierarchy(&hl);
    let (base, _) = openai_server(0).await;
    let answer = client(&hl, &base).chat().create(request()).await.unwrap();
    assert!(answer.choices[0].message.content.is_some());

    let span = otel.genai_span();
    let a = attrs(&span);
    assert_eq!(a["gen_ai.operation.name"], s("chat"));
    assert_eq!(a["gen_ai.request.model"], s("gpt-4o-mini"));
    assert!(a.contains_key("gen_ai.usage.input_tokens"), "{a:#?}");
    assert!(!a.contains_key("http.request.resend_count"));
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["metadata"]["retry_attempt"], 1, "{:#?}", logs[0]);
    assert!(logs[0].get("error").is_none(), "{:#?}", logs[0]);
}

#[tokio::test(flavor = "current_thread")]
async fn async_openai_stream_is_traced_and_logged() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = otel_with_hierarchy(&hl);
    let (base, _) = openai_server(0).await;
    let mut stream = client(&hl, &base)
        .chat()
        .create_stream(request())
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        for c in chunk.unwrap().choices {
            text.push_str(c.delta.content.as_deref().unwrap_or_default());
        }
    }
    assert_eq!(text, "Hello! How can I help?");
    drop(stream);
    let span = otel.genai_span();
    let a = attrs(&span);
    assert_eq!(a["gen_ai.request.stream"], opentelemetry::Value::Bool(true));
    assert_eq!(a["gen_ai.usage.output_tokens"], i(5));
    assert!(!a.contains_key("error.type"), "{a:#?}");
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs[0]["output"], "Hello! How can I help?");
    assert!(logs[0].get("error").is_none(), "{:#?}", logs[0]);
}

#[tokio::test(flavor = "current_thread")]
async fn async_openai_retries_are_linked_attempts_of_one_call() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = otel_with_hierarchy(&hl);
    let (base, seen) = openai_server(3).await;
    // async-openai's own retry layer (3 retries by default) repeats the call.
    let answer = client(&hl, &base).chat().create(request()).await.unwrap();
    assert!(answer.choices[0].message.content.is_some());
    assert_eq!(
        seen.load(Ordering::SeqCst),
        4,
        "three 429s, then the answer"
    );

    let spans = otel.genai_spans();
    assert_eq!(spans.len(), 4, "one span per attempt");
    let mut resends: Vec<Option<i64>> = spans
        .iter()
        .map(|s| match attrs(s).get("http.request.resend_count") {
            Some(opentelemetry::Value::I64(n)) => Some(*n),
            _ => None,
        })
        .collect();
    resends.sort();
    let logs = flushed_logs(&hl, &sink, 4).await;
    assert_eq!(
        resends,
        [None, Some(1), Some(2), Some(3)],
        "{:#?} {:#?}",
        spans.iter().map(attrs).collect::<Vec<_>>(),
        logs.iter().map(|l| &l["metadata"]).collect::<Vec<_>>()
    );
    let errors = spans
        .iter()
        .filter(|s| {
            attrs(s)
                .get("error.type")
                .is_some_and(|e| e.as_str() == "429" || e.as_str() == "rate_limit_exceeded")
        })
        .count();
    assert_eq!(errors, 3);

    assert_eq!(logs.len(), 4, "{logs:#?}");
    let mut attempts: Vec<i64> = logs
        .iter()
        .map(|l| l["metadata"]["retry_attempt"].as_i64().unwrap())
        .collect();
    attempts.sort();
    assert_eq!(attempts, [1, 2, 3, 4]);
    let group = &logs[0]["metadata"]["retry_group"];
    assert!(group.is_string());
    assert!(logs.iter().all(|l| &l["metadata"]["retry_group"] == group));
    let failed = logs.iter().filter(|l| l.get("error").is_some()).count();
    assert_eq!(failed, 3, "the three 429s are logged as failed attempts");

    // A second call is a group of its own.
    let (base, _) = openai_server(0).await;
    client(&hl, &base).chat().create(request()).await.unwrap();
    let logs = flushed_logs(&hl, &sink, 5).await;
    assert_ne!(&logs[4]["metadata"]["retry_group"], group);
}

#[tokio::test(flavor = "current_thread")]
async fn async_openai_without_retry_sends_once() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let (base, seen) = openai_server(1).await;
    let config = OpenAIConfig::new()
        .with_api_base(&base)
        .with_api_key("sk-test");
    let client = Client::with_config(config).with_http_service(
        hl.async_openai_service(reqwest::Client::new())
            .without_retry(),
    );
    assert!(client.chat().create(request()).await.is_err());
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs.len(), 1);
    assert!(
        logs[0]["error"].as_str().unwrap().contains("429"),
        "{:#?}",
        logs[0]
    );
}
