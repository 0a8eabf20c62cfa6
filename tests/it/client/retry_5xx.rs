//! Which failures are retried, how often, and with what backoff: 5xx and 408 are, other
//! 4xx are not; attempts are bounded by `max_attempts`.

use std::time::Duration;

use crate::harness::raw::{fast_retries, RawServer, Reply};
use humanloop_tracing::api::LogRequest;
use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::Client;
use serde_json::json;

fn client(server: &RawServer, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .retry(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn three_500s_then_success() {
    let server = RawServer::start(vec![
        Reply::json(500, json!({"detail": "boom"})),
        Reply::text(500, "Internal Server Error"),
        Reply::json(500, json!({"detail": "boom again"})),
        Reply::json(200, json!({"id": "data_1", "project_id": "pr_1"})),
    ])
    .await;
    let resp = client(&server, fast_retries(5))
        .log(&LogRequest::default())
        .await
        .unwrap();
    assert_eq!(resp.id, "data_1");
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn max_attempts_bounds_the_retries() {
    let server = RawServer::start(vec![Reply::json(502, json!({"detail": "bad gateway"}))]).await;
    let err = client(&server, fast_retries(3))
        .log(&LogRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert!(err.is_retryable(), "retryable, but the budget is spent");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn request_timeout_408_is_retried() {
    let server = RawServer::start(vec![
        Reply::text(408, "Request Timeout"),
        Reply::json(200, json!({"id": "data_1", "project_id": "pr_1"})),
    ])
    .await;
    client(&server, fast_retries(5))
        .log(&LogRequest::default())
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn other_client_errors_are_not_retried() {
    for status in [400, 401, 403, 404, 409] {
        let server = RawServer::start(vec![Reply::json(status, json!({"detail": "no"}))]).await;
        let err = client(&server, fast_retries(5))
            .log(&LogRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert!(!err.is_retryable());
        assert_eq!(server.requests().len(), 1, "status {status}");
    }
}

#[tokio::test]
async fn with_retry_policy_none_makes_one_attempt() {
    // What the exporter does: it counts its own retries.
    let server = RawServer::start(vec![Reply::json(503, json!({"detail": "busy"}))]).await;
    let base = client(&server, fast_retries(5));
    let err = base
        .with_retry_policy(RetryPolicy::none())
        .log(&LogRequest::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn backoff_is_exponential_with_full_jitter_and_capped() {
    let mut p = RetryPolicy::default();
    p.initial_backoff = Duration::from_millis(100);
    p.max_backoff = Duration::from_secs(1);
    for _ in 0..200 {
        assert!(p.backoff(1) <= Duration::from_millis(100));
        assert!(p.backoff(2) <= Duration::from_millis(200));
        assert!(p.backoff(3) <= Duration::from_millis(400));
        assert!(p.backoff(10) <= Duration::from_secs(1));
        assert!(p.backoff(u32::MAX) <= Duration::from_secs(1));
    }
    // Full jitter spreads the waits: over many draws both halves of [0, cap] occur.
    let draws: Vec<Duration> = (0..500).map(|_| p.backoff(10)).collect();
    assert!(draws.iter().any(|d| *d < Duration::from_millis(500)));
    assert!(draws.iter().any(|d| *d > Duration::from_millis(500)));
}
