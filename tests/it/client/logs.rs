//! Logs, batches, updates and sessions: paths, methods, bodies and answers per SPEC.md.

use humanloop_tracing::api::{ChatMessage, LogRequest, ModelConfig, ToolConfig, UpdateLogRequest};
use humanloop_tracing::Client;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = crate::harness::raw::client_with_key(&server, "hl-test-key");
    (server, client)
}

fn llm_log() -> LogRequest {
    LogRequest::default()
        .with_project("travel")
        .with_reference_id("ref-1")
        .with_messages(vec![ChatMessage::user("Hi")])
        .with_output("Hello")
        .with_config(ModelConfig::new("gpt-4o-mini"))
}

#[tokio::test]
async fn one_log_is_an_object() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v4/logs"))
        .and(header("x-api-key", "hl-test-key"))
        .and(body_json(json!({
            "project": "travel",
            "reference_id": "ref-1",
            "messages": [{"role": "user", "content": "Hi"}],
            "output": "Hello",
            "config": {"type": "model", "model": "gpt-4o-mini"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "data_1", "project_id": "pr_1", "session_id": null, "new_field": 1}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let resp = client.log(&llm_log()).await.unwrap();
    assert_eq!(resp.id, "data_1");
    assert_eq!(resp.project_id, "pr_1");
    assert_eq!(resp.extra["new_field"], 1);
}

#[tokio::test]
async fn a_batch_is_an_array_answered_by_an_array() {
    let (server, client) = setup().await;
    let step = LogRequest::default()
        .with_reference_id("ref-2")
        .with_config(ToolConfig::new("plan_trip"));
    Mock::given(method("POST"))
        .and(path("/v4/logs"))
        .and(body_json(json!([
            serde_json::to_value(llm_log()).unwrap(),
            {"reference_id": "ref-2", "config": {"type": "tool", "name": "plan_trip"}}
        ])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "data_1", "project_id": "pr_1"},
            {"id": "data_2", "project_id": "pr_1", "session_id": "sesh_9"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let resp = client.log_batch(&[llm_log(), step]).await.unwrap();
    assert_eq!(resp.len(), 2);
    assert_eq!(resp[1].id, "data_2");
    assert_eq!(resp[1].session_id.as_deref(), Some("sesh_9"));
    // No request at all for nothing.
    assert!(client.log_batch(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn update_by_id_and_by_reference() {
    let (server, client) = setup().await;
    let update = UpdateLogRequest::default()
        .with_output("done")
        .with_duration(1.5);
    Mock::given(method("PATCH"))
        .and(path("/v4/logs/data_1"))
        .and(body_json(json!({"output": "done", "duration": 1.5})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "data_1", "output": "done"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // The reference id is url-encoded in the query string.
    Mock::given(method("PATCH"))
        .and(path("/v4/logs"))
        .and(query_param("reference_id", "span 7/a&b=c"))
        .and(body_json(json!({"output": "done", "duration": 1.5})))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let by_id = client.update_log("data_1", &update).await.unwrap();
    assert_eq!(by_id["id"], "data_1");
    let by_ref = client
        .update_log_by_reference("span 7/a&b=c", &update)
        .await
        .unwrap();
    assert!(by_ref.is_null(), "an empty body is Null");

    let received = server.received_requests().await.unwrap();
    let patch = received
        .iter()
        .find(|r| r.url.path() == "/v4/logs")
        .unwrap();
    assert_eq!(patch.url.query(), Some("reference_id=span+7%2Fa%26b%3Dc"));
}

#[tokio::test]
async fn an_id_with_a_slash_stays_one_path_segment() {
    let (server, client) = setup().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    client
        .update_log("data_1/../x", &UpdateLogRequest::default())
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].url.path(), "/v4/logs/data_1%2F..%2Fx");
}

#[tokio::test]
async fn creating_a_session_answers_its_id() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v4/sessions"))
        .and(header("x-api-key", "hl-test-key"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "sesh_abc"})))
        .expect(1)
        .mount(&server)
        .await;
    let session = client.create_session().await.unwrap();
    assert_eq!(session.id, "sesh_abc");
}
