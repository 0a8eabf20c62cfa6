//! A completion stream that closes before every sample sent its `finish_reason` ends with
//! an error the caller sees, never a silent truncation (SPEC.md: "A close before every
//! sample finished is an error the caller sees").

use crate::harness::raw::collect_error;
use std::time::Duration;

use crate::harness::raw::{assert_transport, client, RawServer, Reply};
use futures_util::StreamExt;
use humanloop_tracing::api::CompletionModelConfigRequest;
use humanloop_tracing::error::TransportKind;
use humanloop_tracing::Error;

const PAUSE: Duration = Duration::from_millis(1);

fn request(num_samples: Option<u32>) -> CompletionModelConfigRequest {
    let mut request = CompletionModelConfigRequest::new("config_abc");
    request.num_samples = num_samples;
    request
}

/// The error of a completion stream (`num_samples`) whose server sends `events`, then closes.
async fn stream_error(events: &[&str], num_samples: Option<u32>) -> Error {
    let server = RawServer::start(vec![Reply::sse(events, PAUSE)]).await;
    collect_error(&client(&server.base_url()), &request(num_samples)).await
}

#[tokio::test]
async fn close_before_a_sample_finished_is_the_last_item() {
    let server = RawServer::start(vec![Reply::sse(
        &[
            "data: {\"data\":[{\"index\":0,\"output\":\"Hi\",\"finish_reason\":\"stop\"}],\"provider_responses\":[]}\n\n",
            "data: {\"data\":[{\"index\":1,\"output\":\"Hel\"}],\"provider_responses\":[]}\n\n",
        ],
        PAUSE,
    )])
    .await;
    let mut stream = client(&server.base_url())
        .completion_model_config_stream(&request(Some(2)))
        .await
        .unwrap();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    assert_eq!(items.len(), 3, "two chunks, then the error: {items:?}");
    assert!(items[0].is_ok() && items[1].is_ok());
    match &items[2] {
        Err(Error::StreamEndedEarly {
            unfinished,
            expected,
        }) => {
            assert_eq!(unfinished, &vec![1]);
            assert_eq!(*expected, Some(2));
        }
        other => panic!("expected StreamEndedEarly, got {other:?}"),
    }
    let message = items.pop().unwrap().unwrap_err().to_string();
    assert!(
        message.contains("[1]") && message.contains("truncated"),
        "{message}"
    );
}

#[tokio::test]
async fn a_sample_never_seen_counts_as_unfinished() {
    // num_samples = 3 but sample 2 never appears at all.
    let err = stream_error(
        &[
            "data: {\"data\":[{\"index\":0,\"output\":\"a\",\"finish_reason\":\"stop\"}],\"provider_responses\":[]}\n\n",
            "data: {\"data\":[{\"index\":1,\"output\":\"b\",\"finish_reason\":\"stop\"}],\"provider_responses\":[]}\n\n",
        ],
        Some(3),
    )
    .await;
    assert!(
        matches!(&err, Error::StreamEndedEarly { unfinished, .. } if unfinished == &vec![2]),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_empty_stream_is_an_error_too() {
    // Default num_samples is 1: a stream with no chunk at all lost sample 0.
    let err = stream_error(&[": nothing to see\n\n"], None).await;
    assert!(
        matches!(&err, Error::StreamEndedEarly { unfinished, .. } if unfinished == &vec![0]),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_event_without_its_blank_line_does_not_count() {
    // The last event is cut before its terminating blank line: per the SSE rules it is
    // never dispatched, so sample 0 did not finish.
    let err = stream_error(
        &[
            "data: {\"data\":[{\"index\":0,\"output\":\"Hel\"}],\"provider_responses\":[]}\n\n",
            "data: {\"data\":[{\"index\":0,\"output\":\"lo\",\"finish_reason\":\"stop\"}],\"provider_",
        ],
        None,
    )
    .await;
    assert!(matches!(err, Error::StreamEndedEarly { .. }), "{err:?}");
}

#[tokio::test]
async fn an_aborted_chunked_transfer_is_a_transport_error() {
    let server = RawServer::start(vec![Reply::ChunkedAbort {
        pieces: vec![
            b"data: {\"data\":[{\"index\":0,\"output\":\"Hel\"}],\"provider_responses\":[]}\n\n"
                .to_vec(),
        ],
        pause: PAUSE,
    }])
    .await;
    let mut stream = client(&server.base_url())
        .completion_model_config_stream(&request(None))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.data[0].output.as_deref(), Some("Hel"));
    let err = stream.next().await.unwrap().unwrap_err();
    assert_transport(&err, TransportKind::Body);
    assert!(!err.is_retryable());
    assert!(stream.next().await.is_none(), "nothing after the error");
    // Cut after the first byte: not retried.
    assert_eq!(server.requests().len(), 1);
}
