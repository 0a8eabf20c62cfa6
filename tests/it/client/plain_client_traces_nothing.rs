//! The endpoint `Client` is a plain transport: a completion call made with it inside a
//! session and a step opens no span and sends only what the request says, while the same
//! call through `Humanloop::client()` (the traced facade) gets its span and the session
//! filled in, and `return_inputs(false)` in the configuration reaches the request.

use std::time::Duration;

use crate::harness::endpoint::handle;
use crate::harness::otel::otel_with_hierarchy;
use humanloop_tracing::api::CompletionModelConfigRequest;
use humanloop_tracing::{session, Client, Config};
use serde_json::{json, Value};
use tracing::Instrument;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn only_the_facade_traces_and_files_completion_calls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v4/completion-model-config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "data_1", "index": 0, "output": "hi", "finish_reason": "stop"}],
            "provider_responses": [],
        })))
        .mount(&server)
        .await;
    let base = format!("{}/v4", server.uri());

    let hl = handle(Config::builder().base_url(&base).return_inputs(false));
    let otel = otel_with_hierarchy(&hl);

    let plain = Client::builder().base_url(&base).build().unwrap();
    let request = CompletionModelConfigRequest::new("config_abc");
    async {
        plain.completion_model_config(&request).await.unwrap();
        hl.client().completion_model_config(&request).await.unwrap();
    }
    .instrument(session("s-1"))
    .await;
    hl.shutdown(Duration::from_secs(5)).await.unwrap();

    let bodies: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/completion-model-config"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], json!({"model_config_id": "config_abc"}), "plain");
    assert_eq!(bodies[1]["session_reference_id"], "s-1", "{}", bodies[1]);
    assert_eq!(bodies[1]["return_inputs"], false, "{}", bodies[1]);

    let finished = otel.spans();
    let calls: Vec<_> = finished
        .iter()
        .filter(|s| s.name == "chat config_abc")
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "only the traced call has a span: {finished:#?}"
    );
}
