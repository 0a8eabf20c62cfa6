//! Bad input gets a 4xx with a clear `detail`, never a 500: API keys, bad JSON, wrong
//! types, oversize bodies, unknown routes.
#![cfg(feature = "server")]

use crate::harness::server::Api;
use humanloop_tracing::server::ServerConfig;
use reqwest::Method;
use serde_json::{json, Value};

async fn send_raw(http: &reqwest::Client, url: String, body: Vec<u8>) -> (u16, Value) {
    let resp = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON error body"))
}

#[tokio::test]
async fn api_keys_are_checked_when_configured() {
    let api = Api::start_with(ServerConfig::in_memory().api_key("k-1").api_key("k-2")).await;
    let (http, url) = (&api.http, format!("{}/sessions", api.base));
    let resp = http.post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("X-API-KEY"));
    let resp = http
        .post(&url)
        .header("X-API-KEY", "k-3")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(body["detail"].is_string());
    for key in ["k-1", "k-2"] {
        let resp = http
            .post(&url)
            .header("X-API-KEY", key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "key {key}");
    }
    // No keys configured: open for local development.
    let open = Api::start().await;
    let resp = open
        .http
        .post(format!("{}/sessions", open.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn bad_json_and_wrong_types_are_422_with_locations() {
    let api = Api::start().await;
    let (http, base) = (api.http.clone(), api.base.clone());

    let (s, body) = send_raw(&http, format!("{base}/logs"), b"{\"config\": ".to_vec()).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    assert_eq!(body["detail"][0]["type"], "value_error.jsondecode");

    let (s, body) = send_raw(
        &http,
        format!("{base}/completion-model-config"),
        b"not json".to_vec(),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(body["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));

    // SPEC.md's own example.
    let (s, body) = api
        .post("/completion-model-config", &json!({"stream": false}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(
        body,
        json!({"detail": [{"loc": ["body", "model_config_id"], "msg": "field required", "type": "value_error.missing"}]})
    );

    let (s, body) = api
        .post("/completion-model-config", &json!({"model_config_id": 5}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "model_config_id"]));
    assert_eq!(body["detail"][0]["type"], "type_error");

    // In a batch, the index is part of the location.
    let (s, body) = api
        .post(
            "/logs",
            &json!([
                {"config": {"type": "tool", "name": "ok"}},
                {"config": {"type": "tool", "name": "x"}, "prompt_tokens": "many"}
            ]),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", 1, "prompt_tokens"])
    );

    let (s, body) = api.post("/logs", &json!({"output": "no config"})).await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "config"]));
    assert!(body["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("config_id"));

    let (s, body) = api
        .post("/logs", &json!({"config_id": "config_nope"}))
        .await;
    assert_eq!(s, 422);
    assert!(body["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .contains("config_nope"));

    let (s, body) = api.post("/logs", &json!("a string")).await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["type"], "type_error");

    let (s, body) = api
        .post(
            "/logs",
            &json!({"config": {"type": "tool", "name": "t"}, "created_at": "yesterday"}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "created_at"]));

    let resp = http
        .get(format!("{base}/logs?page=first"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"], json!(["query"]));
}

#[tokio::test]
async fn oversize_bodies_are_413_with_detail() {
    let api = Api::start_with(ServerConfig::in_memory().body_limit(1024)).await;
    let big = json!({"config": {"type": "tool", "name": "t"}, "output": "x".repeat(4096)});
    let (s, body) = send_raw(
        &api.http,
        format!("{}/logs", api.base),
        big.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s, 413);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("length limit"),
        "{body}"
    );
    // Small bodies still pass.
    let _ = api
        .post_ok("/logs", &json!({"config": {"type": "tool", "name": "t"}}))
        .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let api = Api::start().await;
    let (http, base) = (api.http.clone(), api.base.clone());
    // (method, path, status, whether the answer is a JSON `detail`)
    for (method, path, status, has_detail) in [
        (Method::GET, "/nothing-here", 404, true),
        (Method::DELETE, "/sessions", 405, true),
        (Method::GET, "/logs/data_unknown", 404, false),
    ] {
        let resp = http
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{method} {path}");
        if has_detail {
            let body: Value = resp.json().await.unwrap();
            assert!(body["detail"].is_string(), "{method} {path}: {body}");
        }
    }
}
