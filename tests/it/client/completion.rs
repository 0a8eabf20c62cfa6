//! `POST {base}/completion-model-config` without streaming: the request carries the key and
//! only the fields set, and a two-sample answer decodes with unknown fields kept.

use crate::harness::raw::client_of;
use humanloop_tracing::api::{CompletionModelConfigRequest, FinishReason};
use humanloop_tracing::Client;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn answer() -> serde_json::Value {
    json!({
        "data": [
            {"id": "data_a", "index": 0, "output": "Paris", "raw_output": " Paris\n",
             "inputs": {"city": "France"}, "model_config_id": "config_abc",
             "finish_reason": "stop", "tool_results": null, "logit_bias_used": true},
            {"id": "data_b", "index": 1, "output": "Lyon", "raw_output": "Lyon",
             "inputs": {"city": "France"}, "model_config_id": "config_abc",
             "finish_reason": "length"}
        ],
        "provider_responses": [{"id": "cmpl-1"}, {"id": "cmpl-2"}],
        "project_id": "pr_1",
        "num_samples": 2,
        "usage": {"prompt_tokens": 9, "generation_tokens": 4, "total_tokens": 13, "cached_tokens": 0},
        "session_id": "sesh_1",
        "server_build": "2025.1"
    })
}

#[tokio::test]
async fn two_samples_round_trip() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v4/completion-model-config"))
        .and(header("x-api-key", "hl-test-key"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model_config_id": "config_abc",
            "project": "geo",
            "inputs": {"city": "France"},
            "num_samples": 2,
            "provider_api_keys": {"openai": "sk-provider"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;

    let client = Client::builder()
        .base_url(format!("{}/v4/", server.uri())) // a trailing slash is fine
        .api_key("hl-test-key")
        .build()
        .unwrap();
    let mut inputs = serde_json::Map::new();
    inputs.insert("city".into(), "France".into());
    let req = CompletionModelConfigRequest::new("config_abc")
        .with_project("geo")
        .with_inputs(inputs)
        .with_num_samples(2u32)
        .with_provider_api_keys(
            humanloop_tracing::api::ProviderApiKeys::default().with_openai("sk-provider"),
        );
    let resp = client.completion_model_config(&req).await.unwrap();

    assert_eq!(resp.data.len(), 2);
    assert_eq!(resp.data[0].output.as_deref(), Some("Paris"));
    assert_eq!(resp.data[0].raw_output.as_deref(), Some(" Paris\n"));
    assert_eq!(resp.data[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(resp.data[1].index, 1);
    assert_eq!(resp.data[1].finish_reason, Some(FinishReason::Length));
    assert_eq!(resp.num_samples, Some(2));
    assert_eq!(resp.session_id.as_deref(), Some("sesh_1"));
    let usage = resp.usage.as_ref().unwrap();
    assert_eq!(usage.generation_tokens, Some(4));
    // Unknown fields are kept, at every level.
    assert_eq!(resp.extra["server_build"], "2025.1");
    assert_eq!(resp.data[0].extra["logit_bias_used"], true);
    assert_eq!(usage.extra["cached_tokens"], 0);
    assert_eq!(resp.provider_responses.len(), 2);
}

#[tokio::test]
async fn an_answer_that_is_not_a_completion_is_a_decode_error_with_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"))
        .mount(&server)
        .await;
    let client = client_of(&server);
    let err = client
        .completion_model_config(&CompletionModelConfigRequest::new("config_abc"))
        .await
        .unwrap_err();
    match &err {
        humanloop_tracing::Error::Decode {
            status, snippet, ..
        } => {
            assert_eq!(status.map(|s| s.as_u16()), Some(200));
            assert!(snippet.contains("captive portal"));
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("captive portal"), "{err}");
}

#[tokio::test]
async fn a_stream_flag_is_dropped_from_a_whole_answer_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_json(json!({"model_config_id": "config_abc"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_of(&server);
    let req = CompletionModelConfigRequest::new("config_abc").with_stream(true);
    let resp = client.completion_model_config(&req).await.unwrap();
    assert_eq!(resp.data.len(), 2);
}
