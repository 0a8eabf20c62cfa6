//! The `anthropic` provider against a local Messages API answering with Anthropic's
//! documented wire format (tests/fixtures/anthropic, see SOURCES.md).
#![cfg(feature = "server")]

use std::sync::{Arc, Mutex};

use crate::harness::fixtures::sse_json;
use crate::harness::server::{joined_output, Api};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post as route_post;
use axum::{Json, Router};
use humanloop_tracing::server::ServerConfig;
use serde_json::{json, Value};

use crate::harness::adapters::{fixture_answer, serve_app};

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
        return fixture_answer("text/event-stream", "anthropic/stream_tool_use.sse");
    }
    let overloaded = body.to_string().contains("overload");
    match (body["stream"] == true, overloaded) {
        (true, true) => fixture_answer("text/event-stream", "anthropic/stream_error.sse"),
        (true, false) => fixture_answer("text/event-stream", "anthropic/stream_basic.sse"),
        _ => fixture_answer("application/json", "anthropic/message_basic.json"),
    }
}

async fn upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/messages", route_post(messages))
        .with_state(seen.clone());
    (format!("http://{}/v1", serve_app(app).await), seen)
}

#[tokio::test]
async fn completes_and_streams_through_the_messages_api() {
    let (url, seen) = upstream().await;
    let api = Api::start_with(ServerConfig::in_memory().anthropic_base_url(url)).await;
    let config = api.model_config(json!({
        "model": "claude-sonnet-4-5", "provider": "anthropic", "max_tokens": 300,
        "chat_template": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi {{name}}"}]
    }))
    .await;
    let req = json!({"model_config_id": config, "inputs": {"name": "Claude"},
                     "provider_api_keys": {"anthropic": "sk-ant-test"}});
    let body = api.post_ok("/completion-model-config", &req).await;
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
    let resp = api.completion(&streamed).await;
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
    let (_, logs) = api.get("/logs").await;
    assert_eq!(logs["total"], 2);
    assert!(!logs.to_string().contains("sk-ant-test"));
}

#[tokio::test]
async fn a_mid_stream_error_ends_the_stream_without_a_finish() {
    let (url, _) = upstream().await;
    let api = Api::start_with(ServerConfig::in_memory().anthropic_base_url(url)).await;
    let config = api.model_config(json!({
        "model": "claude-sonnet-4-5", "provider": "anthropic", "prompt_template": "please overload"
    }))
    .await;
    let resp = api
        .completion(&json!({"model_config_id": config, "stream": true,
                      "provider_api_keys": {"anthropic": "sk-ant-test"}}))
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
    let (_, logs) = api.get("/logs").await;
    assert_eq!(logs["total"], 0, "an unfinished sample is not logged");
}

#[tokio::test]
async fn streamed_tool_use_is_assembled() {
    let (url, seen) = upstream().await;
    let api = Api::start_with(ServerConfig::in_memory().anthropic_base_url(url)).await;
    let config = api.model_config(json!({
        "model": "claude-opus-4-1", "provider": "anthropic", "prompt_template": "Weather in SF?",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                   "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]
    }))
    .await;
    let resp = api
        .completion(&json!({"model_config_id": config, "stream": true,
                      "provider_api_keys": {"anthropic": "sk-ant-test"}}))
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
