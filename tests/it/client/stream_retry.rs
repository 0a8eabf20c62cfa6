//! A streamed completion is retried while no byte of the stream has been handed out (an
//! error answer before the stream starts), and never after.

use crate::harness::raw::collect_error;
use crate::harness::raw::collected;
use std::time::Duration;

use crate::harness::raw::{client, RawServer, Reply};
use humanloop_tracing::api::CompletionModelConfigRequest;
use humanloop_tracing::Error;

const DONE: &str =
    "data: {\"data\":[{\"index\":0,\"output\":\"ok\",\"finish_reason\":\"stop\"}],\"provider_responses\":[]}\n\n";

#[tokio::test]
async fn error_answers_before_the_stream_are_retried() {
    let server = RawServer::start(vec![
        Reply::json(503, serde_json::json!({"detail": "warming up"})),
        Reply::json(502, serde_json::json!({"detail": "bad gateway"})),
        Reply::sse(&[DONE], Duration::from_millis(1)),
    ])
    .await;
    let samples = collected(
        &client(&server.base_url()),
        &CompletionModelConfigRequest::new("config_abc"),
    )
    .await;
    assert_eq!(samples[0].output, "ok");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    // Each attempt sent the same body.
    assert!(reqs.iter().all(|r| r.body == reqs[0].body));
}

#[tokio::test]
async fn a_stream_cut_after_it_started_is_not_retried() {
    let server = RawServer::start(vec![
        Reply::sse(
            &["data: {\"data\":[{\"index\":0,\"output\":\"par\"}],\"provider_responses\":[]}\n\n"],
            Duration::from_millis(1),
        ),
        Reply::sse(&[DONE], Duration::from_millis(1)),
    ])
    .await;
    let err = collect_error(
        &client(&server.base_url()),
        &CompletionModelConfigRequest::new("config_abc"),
    )
    .await;
    assert!(matches!(err, Error::StreamEndedEarly { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_client_error_before_the_stream_is_not_retried() {
    let server = RawServer::start(vec![Reply::json(
        404,
        serde_json::json!({"detail": "model config config_nope not found"}),
    )])
    .await;
    let err = client(&server.base_url())
        .completion_model_config_stream(&CompletionModelConfigRequest::new("config_nope"))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert!(err.to_string().contains("config_nope not found"), "{err}");
    assert_eq!(server.requests().len(), 1);
}
