//! Shared by the `server_*` tests: start the endpoint in-process on 127.0.0.1 and talk to
//! it with plain reqwest.
#![allow(dead_code)]

use humanloop_tracing::server::{self, ServerConfig, ServerHandle};
use serde_json::{json, Value};

/// The endpoint with `config`, and a plain HTTP client.
pub async fn start_with(config: ServerConfig) -> (ServerHandle, reqwest::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let handle = server::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("server starts");
    (handle, reqwest::Client::new())
}

/// The endpoint on an in-memory database, no API keys.
pub async fn start() -> (ServerHandle, reqwest::Client) {
    start_with(ServerConfig::in_memory()).await
}

/// POST `body` to `{base}{path}`; answers status and JSON body.
pub async fn post(http: &reqwest::Client, base: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = http
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// GET `{base}{path}`; answers status and JSON body.
pub async fn get(http: &reqwest::Client, base: &str, path: &str) -> (u16, Value) {
    let resp = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Save a model config; answers its id (the answer is a v4 `ProjectConfigResponse`, the
/// config nested under `config`).
pub async fn model_config(http: &reqwest::Client, base: &str, config: Value) -> String {
    let (status, body) = post(http, base, "/model-configs", &config).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["type"], "model", "{body}");
    let id = body["config"]["id"].as_str().expect("config id").to_owned();
    assert!(id.starts_with("config_"), "{id}");
    id
}

/// A mock config with `template` as its prompt.
pub async fn mock_config(http: &reqwest::Client, base: &str, template: &str) -> String {
    model_config(
        http,
        base,
        json!({"model": "mock-1", "provider": "mock", "prompt_template": template, "project": "demo"}),
    )
    .await
}

/// The JSON payloads of a data-only SSE body (lines `data: …`, events split on blank
/// lines, `\n` or `\r\n`); non-JSON data is skipped, as SPEC.md says clients do.
pub fn sse_json(body: &str) -> Vec<Value> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                return None;
            }
            serde_json::from_str(&data.join("\n")).ok()
        })
        .collect()
}
