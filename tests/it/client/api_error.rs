//! Error answers other than 422: status, headers and raw body are kept, whatever the body
//! is (SPEC.md: "a body may also be non-JSON"), and the message says what to do.

use crate::harness::raw::assert_transport;
use humanloop_tracing::api::{CompletionModelConfigRequest, LogRequest};
use humanloop_tracing::error::TransportKind;
use humanloop_tracing::{Client, Error};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn client_for(template: ResponseTemplate) -> (MockServer, Client) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    let client = crate::harness::raw::client_with_key(&server, "hl-wrong-key");
    (server, client)
}

#[tokio::test]
async fn a_401_is_final_and_its_error_keeps_the_text_body_and_headers() {
    let (server, client) = client_for(
        ResponseTemplate::new(401)
            .insert_header("content-type", "text/plain")
            .insert_header("www-authenticate", "ApiKey")
            .set_body_string("Invalid API key"),
    )
    .await;
    let err = client
        .completion_model_config(&CompletionModelConfigRequest::new("config_abc"))
        .await
        .unwrap_err();

    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert!(!err.is_retryable());
    assert_eq!(err.retry_after(), None);
    assert_eq!(err.body(), Some("Invalid API key"));
    let api = err.as_api().unwrap();
    assert_eq!(api.headers["www-authenticate"], "ApiKey");
    assert_eq!(api.detail, None);
    let message = err.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("Invalid API key"), "{message}");
    assert!(
        message.contains("HUMANLOOP_API_KEY"),
        "says what to check: {message}"
    );
    // Neither the message nor Debug shows the key that was sent.
    assert!(!message.contains("hl-wrong-key"));
    assert!(!format!("{err:?}").contains("hl-wrong-key"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn json_detail_object_is_kept() {
    let (_server, client) = client_for(
        ResponseTemplate::new(409)
            .set_body_json(json!({"detail": {"code": "conflict", "reference_id": "ref-1"}})),
    )
    .await;
    let err = client.log(&LogRequest::default()).await.unwrap_err();
    let api = err.as_api().unwrap();
    assert_eq!(api.status.as_u16(), 409);
    assert_eq!(api.detail.as_ref().unwrap()["code"], "conflict");
    assert!(err.to_string().contains("conflict"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = crate::harness::adapters::free_port();
    let mut policy = humanloop_tracing::config::RetryPolicy::none();
    policy.max_attempts = 1;
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}/v4"))
        .retry(policy)
        .build()
        .unwrap();
    let err = client.create_session().await.unwrap_err();
    assert_transport(&err, TransportKind::Connect);
    assert!(err.is_retryable());
    assert_eq!(err.status(), None);
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
}

#[test]
fn an_invalid_base_url_is_a_config_error() {
    let err = Client::builder().base_url("not a url").build().unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let err = Client::builder()
        .base_url("ftp://example.com/v4")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("ftp://example.com/v4"), "{err}");
}

#[tokio::test]
async fn a_huge_error_body_is_kept_only_in_part() {
    let page = format!("<html>{}</html>", "x".repeat(1024 * 1024));
    let (_server, client) = client_for(ResponseTemplate::new(502).set_body_string(page)).await;
    let client = client.with_retry_policy(humanloop_tracing::config::RetryPolicy::none());
    let err = client.log(&LogRequest::default()).await.unwrap_err();
    let body = err.body().unwrap();
    assert!(body.starts_with("<html>xxx"));
    assert!(body.len() < 70 * 1024, "{}", body.len());
    assert!(body.ends_with("(truncated)"));
    // The message shows only the start.
    assert!(err.to_string().len() < 1024);
}
