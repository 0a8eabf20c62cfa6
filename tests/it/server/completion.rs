//! `POST /completion-model-config` with the mock provider: samples, inputs, save=false,
//! projects and sessions, jinja, secrets never kept.
#![cfg(feature = "server")]

use crate::harness::server::Api;
use serde_json::{json, Value};

#[tokio::test]
async fn two_samples_are_answered_and_logged() {
    let api = Api::start().await;
    let config = api.mock_config("Say hello to {{name}}").await;
    let body = api
        .post_ok(
            "/completion-model-config",
            &json!({
                "model_config_id": config, "project": "demo", "inputs": {"name": "Ada"},
                "num_samples": 2, "metadata": {"run": 7}, "session_reference_id": "conv-1",
                "provider_api_keys": {"mock": "sk-never-stored"}
            }),
        )
        .await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["index"], i);
        assert_eq!(
            item["output"],
            format!("Mock response {i} to: Say hello to Ada")
        );
        assert_eq!(
            item["raw_output"],
            format!(" Mock response {i} to: Say hello to Ada\n")
        );
        assert_eq!(item["finish_reason"], "stop");
        assert_eq!(item["inputs"], json!({"name": "Ada"}));
        assert_eq!(item["model_config_id"], config.as_str());
        assert!(item["id"].as_str().unwrap().starts_with("data_"));
    }
    assert_eq!(body["provider_responses"].as_array().unwrap().len(), 2);
    assert_eq!(body["num_samples"], 2);
    assert_eq!(body["metadata"], json!({"run": 7}));
    assert!(body["project_id"].as_str().unwrap().starts_with("pr_"));
    assert!(body["session_id"].as_str().unwrap().starts_with("sesh_"));
    // 4 prompt words per sample, 8 output words per sample.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 8, "generation_tokens": 16, "total_tokens": 24})
    );
    assert!(body["provider_request"]["prompt"]
        .as_str()
        .unwrap()
        .contains("Ada"));
    assert!(!body.to_string().contains("sk-never-stored"));

    // Each sample is a log in the session, with its payloads.
    let (_, logs) = api.get("/logs?session_reference_id=conv-1").await;
    assert_eq!(logs["total"], 2, "{logs}");
    let (_, log) = api
        .get(&format!("/logs/{}", data[1]["id"].as_str().unwrap()))
        .await;
    assert_eq!(log["output"], "Mock response 1 to: Say hello to Ada");
    assert_eq!(log["config_id"], config.as_str());
    assert_eq!(log["inputs"], json!({"name": "Ada"}));
    assert_eq!(log["metadata"], json!({"run": 7}));
    assert!(!log.to_string().contains("sk-never-stored"));
}

#[tokio::test]
async fn return_inputs_false_and_no_project() {
    let api = Api::start().await;
    let config = api.mock_config("{{a}} and {{ b }}").await;
    let body = api
        .post_ok(
            "/completion-model-config",
            &json!({
                "model_config_id": config, "inputs": {"a": "x", "b": 2}, "return_inputs": false
            }),
        )
        .await;
    assert_eq!(body["data"][0]["inputs"], json!({}));
    assert_eq!(body["data"][0]["output"], "Mock response 0 to: x and 2");
    assert!(body.get("project_id").is_none(), "no project named: {body}");
}

#[tokio::test]
async fn save_false_stores_no_payloads() {
    let api = Api::start().await;
    let config = api.mock_config("secret prompt about {{topic}}").await;
    let body = api.post_ok("/completion-model-config", &json!({
        "model_config_id": config, "project": "demo", "inputs": {"topic": "payroll"}, "save": false
    })).await;
    assert!(body["data"][0]["output"]
        .as_str()
        .unwrap()
        .contains("payroll"));
    let log = api
        .get_ok(&format!(
            "/logs/{}",
            body["data"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(log["save"], false);
    assert_eq!(log["finish_reason"], "stop");
    assert!(
        !log.to_string().contains("payroll"),
        "payload stored: {log}"
    );
    for field in [
        "inputs",
        "output",
        "raw_output",
        "provider_request",
        "provider_response",
        "messages",
        "prompt",
    ] {
        assert!(log.get(field).is_none(), "{field} stored: {log}");
    }
}

#[tokio::test]
async fn jinja_templates_and_chat_templates() {
    let api = Api::start().await;
    let config = api
        .model_config(json!({
            "model": "mock-chat", "provider": "mock", "endpoint": "chat",
            "chat_template": [
                {"role": "system", "content": "You list things."},
                {"role": "user", "content": "{% for x in items %}{{ x|upper }} {% endfor %}"}
            ]
        }))
        .await;
    let body = api.post_ok("/completion-model-config", &json!({
        "model_config_id": config, "inputs": {"items": ["tea", "milk"]}, "template_language": "jinja"
    })).await;
    assert_eq!(
        body["data"][0]["output"],
        "Mock response 0 to: You list things. TEA MILK"
    );

    // An undefined variable is a 422, not a silent empty string.
    let (s, body) = api
        .post(
            "/completion-model-config",
            &json!({
                "model_config_id": config, "inputs": {}, "template_language": "jinja"
            }),
        )
        .await;
    assert_eq!(s, 422, "{body}");
}

#[tokio::test]
async fn parents_and_errors() {
    let api = Api::start().await;
    let config = api.mock_config("Hi {{name}}").await;
    // A step logged earlier is a parent by reference id.
    let (_, step) = api
        .post(
            "/logs",
            &json!({
                "session_reference_id": "conv-9", "reference_id": "agent",
                "config": {"type": "tool", "name": "agent"}
            }),
        )
        .await;
    let body = api
        .post_ok(
            "/completion-model-config",
            &json!({
                "model_config_id": config, "inputs": {"name": "Bo"},
                "session_reference_id": "conv-9", "parent_reference_id": "agent"
            }),
        )
        .await;
    let (_, log) = api
        .get(&format!(
            "/logs/{}",
            body["data"][0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(log["parent_id"], step["id"]);

    let cases = [
        (
            json!({"model_config_id": config, "inputs": {}}),
            422,
            "name",
        ),
        (
            json!({"model_config_id": "config_missing"}),
            404,
            "config_missing",
        ),
        (
            json!({"model_config_id": config, "inputs": {"name": "x"}, "parent_reference_id": "ghost"}),
            422,
            "ghost",
        ),
        (
            json!({"model_config_id": config, "inputs": {"name": "x"}, "num_samples": 0}),
            422,
            "num_samples",
        ),
        (
            json!({"model_config_id": config, "inputs": {"name": "x"}, "template_language": "handlebars"}),
            422,
            "handlebars",
        ),
    ];
    for (req, status, needle) in cases {
        let (s, body) = api.post("/completion-model-config", &req).await;
        assert_eq!(s, status, "{req} -> {body}");
        assert!(
            body["detail"].to_string().contains(needle),
            "{req} -> {body}"
        );
    }
}

#[tokio::test]
async fn model_configs_round_trip() {
    let api = Api::start().await;
    let id = api
        .model_config(json!({
            "type": "model", "model": "gpt-4o-mini", "provider": "openai", "temperature": 0.2,
            "stop": ["\n"], "other": {"base_url": "http://127.0.0.1:1/v1", "api_key": "sk-no"},
            "project": "demo"
        }))
        .await;
    let config = api.get_ok(&format!("/model-configs/{id}")).await;
    assert_eq!(config["model"], "gpt-4o-mini");
    assert_eq!(config["temperature"], 0.2);
    assert_eq!(config["stop"], json!(["\n"]));
    assert!(config["project_id"].as_str().unwrap().starts_with("pr_"));
    assert!(
        !config.to_string().contains("sk-no"),
        "a key-looking field was kept: {config}"
    );
    let (s, body): (u16, Value) = api
        .post("/model-configs", &json!({"provider": "mock"}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "model"]));
}
