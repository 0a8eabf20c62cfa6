//! The `anthropic` provider against a local Messages API answering with Anthropic's
//! documented wire format (tests/fixtures/anthropic, see SOURCES.md).
#![cfg(feature = "server")]

use std::sync::{Arc, Mutex};

use crate::harness::fixtures::sse_json;
use crate::harness::server::{completion, joined_output};
use crate::harness::server::{get, model_config, post, start_with};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post as route_post;
use axum::{Json, Router};
use humanloop_tracing::server::ServerConfig;
use serde_json::{json, Value};

fn fixture(path: &str) -> String {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

type Seen = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

async fn messages(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    seen.lock().unwrap().push((headers.clone(), body.clone()));
    if headers.get("x-api-key").map(|v| v.as_bytes()) != Some(b"sk-ant-test") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}))).into_response();
    }
    if body.get("tools").is_some() {
        return (
            [("content-type", "text/event-stream")],
            fixture("anthropic/stream_tool_use.sse"),
        )
            .into_response();
    }
    let overloaded = body.to_string().contains("overload");
    match (body["stream"] == true, overloaded) {
        (true, true) => (
            [("content-type", "text/event-stream")],
            fixture("anthropic/stream_error.sse"),
        )
            .into_response(),
        (true, false) => (
            [("content-type", "text/event-stream")],
            fixture("anthropic/stream_basic.sse"),
        )
            .into_response(),
        _ => (
            [("content-type", "application/json")],
            fixture("anthropic/message_basic.json"),
        )
            .into_response(),
    }
}

async fn upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/messages", route_post(messages))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test]
async fn completes_and_streams_through_the_messages_api() {
    let (url, seen) = upstream().await;
    let (server, http) = start_with(ServerConfig::in_memory().anthropic_base_url(url)).await;
    let base = server.base_url();
    let config = model_config(&http, &base, json!({
        "model": "claude-sonnet-4-5", "provider": "anthropic", "max_tokens": 300,
        "chat_template": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi {{name}}"}]
    }))
    .await;
    let req = json!({"model_config_id": config, "inputs": {"name": "Claude"},
                     "provider_api_keys": {"anthropic": "sk-ant-test"}});
    let (s, body) = post(&http, &base, "/completion-model-config", &req).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"][0]["output"], "Hi! My name is Claude.");
    assert_eq!(body["data"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 2095, "generation_tokens": 503, "total_tokens": 2598})
    );
    let (headers, sent) = seen.lock().unwrap()[0].clone();
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Hi Claude"}])
    );
    assert_eq!(sent["max_tokens"], 300);
    assert!(!body.to_string().contains("sk-ant-test"));

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let resp = completion(&http, &base, &streamed).await;
    assert_eq!(resp.status(), 200);
    let events = sse_json(&resp.text().await.unwrap());
    let text: String = joined_output(&events);
    assert_eq!(text, "Hello!");
    let last = events.last().unwrap();
    assert_eq!(last["data"][0]["finish_reason"], "stop");
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 25, "generation_tokens": 15, "total_tokens": 40})
    );
    let (_, logs) = get(&http, &base, "/logs").await;
    assert_eq!(logs["total"], 2);
    assert!(!logs.to_string().contains("sk-ant-test"));
}

#[tokio::test]
async fn a_mid_stream_error_ends_the_stream_without_a_finish() {
    let (url, _) = upstream().await;
    let (server, http) = start_with(ServerConfig::in_memory().anthropic_base_url(url)).await;
    let base = server.base_url();
    let config = model_config(&http, &base, json!({
        "model": "claude-sonnet-4-5", "provider": "anthropic", "prompt_template": "please overload"
    }))
    .await;
    let resp = completion(
        &http,
        &base,
        &json!({"model_config_id": config, "stream": true,
                      "provider_api_keys": {"anthropic": "sk-ant-test"}}),
    )
    .await;
    assert_eq!(resp.status(), 200, "the provider accepted the request");
    // The connection is cut: either the body read fails, or what arrived has no finish.
    if let Ok(text) = resp.text().await {
        let events = sse_json(&text);
        assert!(
            events
                .iter()
                .all(|e| e["data"][0]["finish_reason"].is_null()),
            "{text}"
        );
    }
    let (_, logs) = get(&http, &base, "/logs").await;
    assert_eq!(logs["total"], 0, "an unfinished sample is not logged");
}

#[tokio::test]
async fn streamed_tool_use_is_assembled() {
    let (url, seen) = upstream().await;
    let (server, http) = start_with(ServerConfig::in_memory().anthropic_base_url(url)).await;
    let base = server.base_url();
    let config = model_config(&http, &base, json!({
        "model": "claude-opus-4-1", "provider": "anthropic", "prompt_template": "Weather in SF?",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                   "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]
    }))
    .await;
    let resp = completion(
        &http,
        &base,
        &json!({"model_config_id": config, "stream": true,
                      "provider_api_keys": {"anthropic": "sk-ant-test"}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let events = sse_json(&resp.text().await.unwrap());
    let last = &events.last().unwrap()["data"][0];
    assert_eq!(last["finish_reason"], "tool_call");
    assert_eq!(
        last["tool_calls"][0]["id"],
        "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    );
    assert_eq!(last["tool_calls"][0]["function"]["name"], "get_weather");
    let args: serde_json::Value = serde_json::from_str(
        last["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        args,
        json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
    );
    // The tool went out in the Messages API's shape.
    let sent = seen.lock().unwrap()[0].1.clone();
    assert_eq!(
        sent["tools"],
        json!([{"name": "get_weather", "description": "Current weather",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}])
    );
}
