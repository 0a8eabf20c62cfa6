//! Whatever the body, the endpoint answers 2xx or 4xx with a JSON `detail`, never a 500
//! and never a crash (property test over arbitrary JSON, mostly log-shaped).
#![cfg(feature = "server")]

use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z_{}%. -]{0,12}".prop_map(Value::from),
        Just(json!("")),
        Just(json!("data_x")),
        Just(json!("{{x}}")),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const LOG_FIELDS: &[&str] = &[
    "project",
    "project_id",
    "session_id",
    "session_reference_id",
    "parent_id",
    "parent_reference_id",
    "reference_id",
    "inputs",
    "metadata",
    "save",
    "messages",
    "output",
    "output_message",
    "config_id",
    "config",
    "created_at",
    "duration",
    "prompt_tokens",
    "provider_request",
    "model_config_id",
    "num_samples",
    "stream",
    "template_language",
    "return_inputs",
    "provider_api_keys",
    "model",
    "provider",
    "prompt_template",
    "chat_template",
];

/// An object with known field names and arbitrary values: gets past "not an object".
fn log_shaped() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(LOG_FIELDS), any_json()), 0..6).prop_map(|kv| {
        let mut m = Map::new();
        for (k, v) in kv {
            m.insert(k.to_owned(), v);
        }
        if m.len() % 2 == 0 {
            m.insert("config".into(), json!({"type": "tool", "name": "t"}));
        }
        Value::Object(m)
    })
}

fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => log_shaped(),
        1 => prop::collection::vec(log_shaped(), 0..3).prop_map(Value::Array),
        1 => any_json(),
    ]
}

#[test]
fn no_body_makes_the_endpoint_fail() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, http) = rt.block_on(crate::harness::server::start());
    let base = server.base_url();
    let config = rt.block_on(crate::harness::server::mock_config(
        &http, &base, "Hi {{x}}",
    ));
    let paths: Vec<&str> = vec![
        "/logs",
        "/completion-model-config",
        "/model-configs",
        "/sessions",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(
            &(prop::sample::select(paths), body(), any::<bool>()),
            |(path, mut body, use_config)| {
                if use_config && path == "/completion-model-config" {
                    if let Value::Object(m) = &mut body {
                        m.insert("model_config_id".into(), json!(config));
                    }
                }
                let (status, answer) =
                    rt.block_on(crate::harness::server::post(&http, &base, path, &body));
                prop_assert!(status < 500, "{path} {body} -> {status} {answer}");
                if status >= 400 {
                    prop_assert!(answer.get("detail").is_some(), "{path} {body} -> {answer}");
                }
                Ok(())
            },
        )
        .unwrap();
    // Still serving.
    let (status, _) = rt.block_on(crate::harness::server::get(&http, &base, "/logs"));
    assert_eq!(status, 200);
}
