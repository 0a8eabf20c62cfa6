//! What `POST /logs` stores, on both decoding paths (a well-formed body is decoded straight
//! into typed logs; anything else item by item with located errors): keys that may hold a
//! secret are removed at any depth and in any case, `save: false` drops the payloads, and
//! fields the types do not know are kept.
#![cfg(feature = "server")]

use crate::harness::server::Api;
use serde_json::{json, Value};

fn config() -> Value {
    json!({"type": "model", "model": "gpt-4o-mini", "provider": "openai"})
}

async fn stored(api: &Api, id: &str) -> Value {
    api.get_ok(&format!("/logs/{id}")).await
}

#[tokio::test]
async fn secrets_are_removed_and_unknown_fields_kept() {
    let api = Api::start().await;
    let secretive = json!({
        "config": config(),
        "reference_id": "s-1",
        "inputs": {"question": "hi", "API_KEY": "sk-1", "nested": [{"Authorization": "Bearer x", "keep": 1}]},
        "metadata": {"x-api-key": "k-2", "apiKey": "k-3", "note": "api_key is a word here"},
        "provider_request": {"provider_api_keys": {"openai": "sk-4"}, "model": "gpt-4o-mini"},
        "custom_field": {"Api-Key": "k-5", "visible": true},
        "output": "ok",
    });
    let plain = json!({
        "config": config(),
        "reference_id": "s-2",
        "inputs": {"question": "capital of Portugal?", "apikeys": "not a secret name"},
        "custom_field": "kept",
        "output": "Lisbon",
    });
    // An array (typed path), then the same logs one by one.
    let answer = api.post_ok("/logs", &json!([secretive, plain])).await;
    let ids: Vec<String> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();

    let log = stored(&api, &ids[0]).await;
    let text = log.to_string();
    for secret in ["sk-1", "Bearer x", "k-2", "k-3", "sk-4", "k-5"] {
        assert!(!text.contains(secret), "{secret} stored: {text}");
    }
    assert_eq!(
        log["inputs"],
        json!({"question": "hi", "nested": [{"keep": 1}]})
    );
    assert_eq!(log["metadata"], json!({"note": "api_key is a word here"}));
    assert_eq!(log["provider_request"], json!({"model": "gpt-4o-mini"}));
    assert_eq!(log["custom_field"], json!({"visible": true}));
    assert_eq!(log["output"], "ok");

    let log = stored(&api, &ids[1]).await;
    assert_eq!(
        log["inputs"],
        json!({"question": "capital of Portugal?", "apikeys": "not a secret name"})
    );
    assert_eq!(log["custom_field"], "kept");
    assert_eq!(log["output"], "Lisbon");
    assert_eq!(log["config"]["model"], "gpt-4o-mini");
    assert_eq!(log["reference_id"], "s-2");
}

#[tokio::test]
async fn save_false_drops_payloads() {
    let api = Api::start().await;
    let answer = api
        .post_ok(
            "/logs",
            &json!({
                "config": config(), "save": false, "inputs": {"q": "private"},
                "messages": [{"role": "user", "content": "private"}], "output": "private",
                "provider_response": {"choices": []}, "prompt_tokens": 3, "duration": 0.5
            }),
        )
        .await;
    let log = stored(&api, answer["id"].as_str().unwrap()).await;
    assert!(!log.to_string().contains("private"), "{log}");
    for field in ["inputs", "messages", "output", "provider_response"] {
        assert!(log.get(field).is_none(), "{field} kept: {log}");
    }
    assert_eq!(log["prompt_tokens"], 3);
    assert_eq!(log["duration"], 0.5);
    assert_eq!(log["save"], false);
}

/// A duplicated key: the last value wins, as when the body is read as a JSON object first
/// (the typed path refuses such a body and leaves it to the item-by-item path).
#[tokio::test]
async fn bodies_the_typed_path_refuses_are_stored_alike() {
    let api = Api::start().await;
    let body = r#"[{"config": {"type": "model", "model": "m"}, "output": "first", "output": "second",
        "inputs": {"api_key": "sk-9", "q": 1}, "reference_id": "dup-1"}]"#;
    let resp = api.post_raw("/logs", body).await;
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let log = stored(&api, answer[0]["id"].as_str().unwrap()).await;
    assert_eq!(log["output"], "second");
    assert_eq!(log["inputs"], json!({"q": 1}));
    // A retry with the same reference id answers the same datapoint (dedupe).
    let resp = api.post_raw("/logs", body).await;
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again[0]["id"], answer[0]["id"]);
}
