//! The API key never shows in `Debug` (client, builder), yet it is sent as `X-API-KEY`.

use humanloop_tracing::{Client, Config};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "hl-sk-0123456789-secret";

#[tokio::test]
async fn key_is_sent_but_never_printed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v4/sessions"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": "sesh_1"})))
        .expect(1)
        .mount(&server)
        .await;

    let builder = Client::builder()
        .base_url(format!("{}/v4", server.uri()))
        .api_key(KEY);
    let builder_debug = format!("{builder:?} {builder:#?}");
    let client = builder.build().unwrap();
    let client_debug = format!("{client:?} {client:#?}");
    let retried = client.with_retry_policy(humanloop_tracing::config::RetryPolicy::none());
    let retried_debug = format!("{retried:?}");

    for debug in [&builder_debug, &client_debug, &retried_debug] {
        assert!(!debug.contains(KEY), "{debug}");
        assert!(!debug.contains("0123456789"), "{debug}");
        assert!(debug.contains("****"), "shows that a key is set: {debug}");
    }
    assert_eq!(client.create_session().await.unwrap().id, "sesh_1");
}

#[test]
fn from_config_keeps_the_key_hidden() {
    let config = Config::builder()
        .base_url("http://127.0.0.1:8787/v4")
        .api_key(KEY)
        .build()
        .unwrap();
    let client = Client::from_config(&config).unwrap();
    assert!(!format!("{client:?}").contains(KEY));
    assert_eq!(client.base_url(), "http://127.0.0.1:8787/v4");
    assert_eq!(client.retry_policy(), config.retry());
}

#[tokio::test]
async fn a_trailing_newline_is_dropped_and_a_broken_key_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": "sesh_1"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(format!("{}/v4", server.uri()))
        .api_key(format!("{KEY}\n"))
        .build()
        .unwrap();
    client.create_session().await.unwrap();

    let err = Client::builder()
        .api_key("hl-sk-part\none")
        .build()
        .unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(message.contains("API key"), "{message}");
    assert!(
        !message.contains("hl-sk-part"),
        "the key is not echoed: {message}"
    );
}
