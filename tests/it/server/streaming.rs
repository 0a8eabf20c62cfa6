//! Streamed completions (`stream: true`): data-only SSE as SPEC.md describes it.
#![cfg(feature = "server")]

use std::collections::BTreeMap;

use crate::harness::fixtures::sse_json;
use crate::harness::server::Api;
use serde_json::{json, Value};

#[tokio::test]
async fn three_samples_interleave_and_each_ends_with_a_finish_reason() {
    let api = Api::start().await;
    let config = api.mock_config("Tell {{who}} a short story").await;
    let req = json!({
        "model_config_id": config, "project": "demo", "inputs": {"who": "Ada"},
        "num_samples": 3, "session_reference_id": "s-stream", "metadata": {"k": "v"}
    });

    // The same request without streaming, for the expected full outputs.
    let (_, whole) = api.post("/completion-model-config", &req).await;

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let resp = api.completion(&streamed).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    assert!(
        text.lines()
            .all(|l| l.is_empty() || l.starts_with("data: ")),
        "data-only: {text}"
    );
    let events = sse_json(&text);
    assert!(events.len() > 6, "several chunks per sample: {text}");

    let mut outputs: BTreeMap<u64, String> = BTreeMap::new();
    let mut finished: BTreeMap<u64, (usize, Value)> = BTreeMap::new();
    let mut ids: BTreeMap<u64, String> = BTreeMap::new();
    for (pos, ev) in events.iter().enumerate() {
        let data = ev["data"].as_array().expect("response-shaped");
        assert_eq!(data.len(), 1, "exactly one item per event: {ev}");
        assert!(ev["provider_responses"].is_array());
        let item = &data[0];
        let index = item["index"].as_u64().unwrap();
        assert!(index < 3);
        assert!(
            !finished.contains_key(&index),
            "chunk after the last chunk of {index}"
        );
        let id = item["id"].as_str().unwrap().to_owned();
        assert_eq!(
            ids.entry(index).or_insert_with(|| id.clone()),
            &id,
            "stable id per sample"
        );
        outputs
            .entry(index)
            .or_default()
            .push_str(item["output"].as_str().unwrap());
        assert!(
            item.as_object().unwrap().contains_key("finish_reason"),
            "{item}"
        );
        if !item["finish_reason"].is_null() {
            finished.insert(index, (pos, item["finish_reason"].clone()));
            assert!(ev["usage"]["total_tokens"].as_i64().unwrap() > 0);
        }
    }
    assert_eq!(finished.len(), 3, "every sample finishes: {text}");
    for i in 0..3u64 {
        assert_eq!(finished[&i].1, "stop");
        assert_eq!(
            outputs[&i],
            whole["data"][i as usize]["raw_output"].as_str().unwrap()
        );
    }
    // Interleaved: sample 2 started before sample 0 finished.
    let first_of_2 = events
        .iter()
        .position(|e| e["data"][0]["index"] == 2)
        .unwrap();
    assert!(first_of_2 < finished[&0].0);

    // Each finished sample was committed before its last chunk went out.
    for i in 0..3u64 {
        let log = api.get_ok(&format!("/logs/{}", ids[&i])).await;
        assert_eq!(log["raw_output"].as_str().unwrap(), outputs[&i]);
        assert_eq!(log["output"].as_str().unwrap(), outputs[&i].trim());
    }
}

#[tokio::test]
async fn stream_errors_come_before_the_stream() {
    let api = Api::start().await;
    let resp = api
        .completion(&json!({"model_config_id": "config_absent", "stream": true}))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("config_absent"));
}
