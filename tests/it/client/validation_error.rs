//! A 422 answer keeps its parsed `detail` list (SPEC.md, "Errors"), says what to fix and is
//! not retried.

use crate::harness::raw::client_of;
use humanloop_tracing::api::LogRequest;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn detail_list_is_parsed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "detail": [
                {"loc": ["body", "model_config_id"], "msg": "field required", "type": "value_error.missing"},
                {"loc": ["body", "messages", 0, "role"], "msg": "unknown role", "type": "value_error", "ctx": {"given": "robot"}}
            ]
        })))
        .expect(1) // never retried
        .mount(&server)
        .await;
    let client = client_of(&server);
    let err = client.log(&LogRequest::default()).await.unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert!(!err.is_retryable());
    let details = err.validation_errors();
    assert_eq!(details.len(), 2);
    assert_eq!(
        details[0].loc,
        vec![json!("body"), json!("model_config_id")]
    );
    assert_eq!(details[0].msg, "field required");
    assert_eq!(details[0].kind, "value_error.missing");
    assert_eq!(details[1].loc[2], json!(0));
    assert_eq!(details[1].extra["ctx"]["given"], "robot");
    // The raw body is kept too.
    assert!(err.body().unwrap().contains("value_error.missing"));

    let message = err.to_string();
    assert!(
        message.contains("422")
            && message.contains("body.model_config_id: field required (value_error.missing)")
            && message.contains("body.messages.0.role: unknown role"),
        "{message}"
    );
}

#[tokio::test]
async fn a_422_with_another_shape_keeps_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"detail": "bad input"})))
        .mount(&server)
        .await;
    let client = client_of(&server);
    let err = client.log(&LogRequest::default()).await.unwrap_err();
    assert!(err.validation_errors().is_empty());
    assert_eq!(err.as_api().unwrap().detail, Some(json!("bad input")));
    assert!(err.to_string().contains("bad input"), "{err}");
}
