//! The `openai` provider against a tiny OpenAI-compatible server started by the test,
//! answering with OpenAI's documented wire format (tests/fixtures/openai, see SOURCES.md).
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
use crate::harness::fixtures::fixture_text as fixture;

/// What the upstream saw: (authorization header, body) per request.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn chat(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    seen.lock().unwrap().push((auth.clone(), body.clone()));
    if auth.as_deref() != Some("Bearer sk-test-123") {
        return (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json")],
            fixture("openai/error_invalid_api_key.json"),
        )
            .into_response();
    }
    if body.to_string().contains("busy") {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
        )
            .into_response();
    }
    if body.get("tools").is_some() {
        let (kind, file) = if body["stream"] == true {
            ("text/event-stream", "openai/chat_stream_tool_call.sse")
        } else {
            ("application/json", "openai/chat_tool_calls.json")
        };
        return ([("content-type", kind)], fixture(file)).into_response();
    }
    if body["stream"] == true {
        fixture_answer("text/event-stream", "openai/chat_stream_include_usage.sse")
    } else {
        fixture_answer("application/json", "openai/chat_basic.json")
    }
}

/// An OpenAI-compatible upstream on 127.0.0.1; answers its `/v1` base URL.
async fn upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/chat/completions", route_post(chat))
        .with_state(seen.clone());
    (format!("http://{}/v1", serve_app(app).await), seen)
}

#[tokio::test]
async fn completes_through_an_openai_compatible_server() {
    let (upstream_url, seen) = upstream().await;
    let api = Api::start().await;
    let config = api.model_config(json!({"model": "gpt-4o-mini", "provider": "openai", "endpoint": "chat", "temperature": 0.5,
               "chat_template": [{"role": "user", "content": "Hello {{name}}"}],
               "other": {"base_url": upstream_url}}),
    )
    .await;
    let body = api.post_ok("/completion-model-config",
        &json!({
            "model_config_id": config, "project": "demo", "inputs": {"name": "Ada"}, "user": "u-1",
            "provider_api_keys": {"openai": "sk-test-123"}
        })).await;
    let item = &body["data"][0];
    assert_eq!(item["output"], "Hello there, how may I assist you today?");
    assert_eq!(
        item["raw_output"],
        "\n\nHello there, how may I assist you today?"
    );
    assert_eq!(item["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 9, "generation_tokens": 12, "total_tokens": 21})
    );
    assert_eq!(body["provider_responses"][0]["id"], "chatcmpl-123");
    assert_eq!(body["user"], "u-1");

    let (auth, sent) = seen.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Hello Ada"}])
    );
    assert_eq!(sent["temperature"], 0.5);
    assert_eq!(sent["user"], "u-1");
    assert_eq!(
        body["provider_request"], sent,
        "provider_request is what was sent"
    );

    // The key is nowhere: not in the answer, not in the stored log.
    assert!(!body.to_string().contains("sk-test-123"));
    let (_, logs) = api.get("/logs?project=demo").await;
    assert_eq!(logs["total"], 1);
    assert!(!logs.to_string().contains("sk-test-123"), "{logs}");
    assert_eq!(
        logs["records"][0]["output"],
        "Hello there, how may I assist you today?"
    );
}

#[tokio::test]
async fn streams_through_an_openai_compatible_server() {
    let (upstream_url, seen) = upstream().await;
    // Base URL from the server's configuration this time.
    let api = Api::start_with(ServerConfig::in_memory().openai_base_url(upstream_url)).await;
    let config = api
        .model_config(
            json!({"model": "gpt-4o-mini", "provider": "openai", "prompt_template": "Hi"}),
        )
        .await;
    let resp = api
        .completion(&json!({"model_config_id": config, "stream": true,
                      "provider_api_keys": {"openai": "sk-test-123"}}))
        .await;
    assert_eq!(resp.status(), 200);
    let events = sse_json(&resp.text().await.unwrap());
    let text: String = joined_output(&events);
    assert_eq!(text, "Hello! How can I help?");
    let last = events.last().unwrap();
    assert_eq!(last["data"][0]["finish_reason"], "stop");
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 9, "generation_tokens": 5, "total_tokens": 14})
    );
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| e["data"][0]["finish_reason"].is_null()));

    let sent = seen.lock().unwrap()[0].1.clone();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "Hi"}]));
    let (_, log) = api
        .get(&format!(
            "/logs/{}",
            last["data"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(log["output"], "Hello! How can I help?");
}

#[tokio::test]
async fn tool_calls_are_returned_whole_and_streamed_assembled() {
    let (upstream_url, seen) = upstream().await;
    let api = Api::start().await;
    let tool = json!({"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}});
    let config = api.model_config(json!({"model": "gpt-4o", "provider": "openai", "prompt_template": "Weather in {{city}}?",
               "tools": [tool], "other": {"base_url": upstream_url}}),
    )
    .await;
    let req = json!({"model_config_id": config, "inputs": {"city": "Paris"},
                     "provider_api_keys": {"openai": "sk-test-123"}});
    let body = api.post_ok("/completion-model-config", &req).await;
    assert_eq!(body["data"][0]["finish_reason"], "tool_call");
    assert_eq!(
        body["data"][0]["tool_calls"][0]["function"]["name"],
        "get_current_weather"
    );
    assert_eq!(seen.lock().unwrap()[0].1["tools"], json!([tool]));

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let resp = api.completion(&streamed).await;
    let events = sse_json(&resp.text().await.unwrap());
    let last = &events.last().unwrap()["data"][0];
    assert_eq!(last["finish_reason"], "tool_call");
    assert_eq!(
        last["tool_calls"],
        json!([{"id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}"}}])
    );
    let (_, log) = api
        .get(&format!("/logs/{}", last["id"].as_str().unwrap()))
        .await;
    assert_eq!(log["tool_calls"], last["tool_calls"]);
}

#[tokio::test]
async fn provider_refusals_come_before_any_stream() {
    let (upstream_url, _) = upstream().await;
    let api = Api::start().await;
    let upstream_url = upstream_url.as_str();
    let config = api
        .model_config(
            json!({"model": "gpt-4o-mini", "provider": "openai", "prompt_template": "Hi",
               "other": {"base_url": upstream_url}}),
        )
        .await;
    for stream in [false, true] {
        let (s, body) = api.post("/completion-model-config", &json!({
            "model_config_id": config, "stream": stream, "provider_api_keys": {"openai": "sk-wrong"}
        }))
        .await;
        // The caller's key was refused: a 400 (not worth retrying), with the provider's answer.
        assert_eq!(s, 400, "{body}");
        assert_eq!(body["detail"]["provider_status"], 401);
        assert_eq!(
            body["detail"]["provider_body"]["error"]["code"],
            "invalid_api_key"
        );
    }
    // A provider rate limit stays a 429, so clients back off.
    let busy = api
        .model_config(
            json!({"model": "gpt-4o-mini", "provider": "openai", "prompt_template": "busy",
               "other": {"base_url": upstream_url}}),
        )
        .await;
    let (s, body) = api
        .post(
            "/completion-model-config",
            &json!({
                "model_config_id": busy, "provider_api_keys": {"openai": "sk-test-123"}
            }),
        )
        .await;
    assert_eq!(s, 429, "{body}");
    // An unreachable provider is a 502.
    let gone = api
        .model_config(
            json!({"model": "gpt-4o-mini", "provider": "openai", "prompt_template": "Hi",
               "other": {"base_url": "http://127.0.0.1:9/v1"}}),
        )
        .await;
    let (s, body) = api
        .post(
            "/completion-model-config",
            &json!({"model_config_id": gone}),
        )
        .await;
    assert_eq!(s, 502, "{body}");
    let (_, logs) = api.get("/logs").await;
    assert_eq!(logs["total"], 0, "nothing logged for a failed call");
}
