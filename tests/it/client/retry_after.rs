//! `Retry-After` is honoured: it wins over the computed backoff, and is capped by
//! `max_backoff`. Time is tokio's paused clock and the server runs in the same runtime, so
//! the gap between the two requests the server records is exact, not a wall-clock guess.

use std::time::{Duration, SystemTime};

use crate::harness::raw::{RawServer, Reply};
use humanloop_tracing::api::LogRequest;
use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::Client;
use serde_json::json;

fn policy(max_backoff: Duration) -> RetryPolicy {
    let mut p = RetryPolicy::default();
    p.max_attempts = 3;
    p.initial_backoff = Duration::from_millis(1); // the computed backoff alone is tiny
    p.max_backoff = max_backoff;
    p.max_elapsed = Duration::from_secs(600);
    p
}

fn client(server: &RawServer, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .request_timeout(Duration::from_secs(3600))
        .retry(policy)
        .build()
        .unwrap()
}

fn ok() -> Reply {
    Reply::json(200, json!({"id": "data_1", "project_id": "pr_1"}))
}

#[tokio::test(start_paused = true)]
async fn waits_as_long_as_the_server_asks() {
    let server = RawServer::start(vec![
        Reply::json(429, json!({"detail": "slow down"})).with_header("retry-after", "7"),
        ok(),
    ])
    .await;
    let started = tokio::time::Instant::now();
    let resp = client(&server, policy(Duration::from_secs(30)))
        .log(&LogRequest::default())
        .await
        .unwrap();
    assert_eq!(resp.id, "data_1");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_secs(7), "waited {gap:?}");
    // Paused clock: nothing else advanced it, so the wait was Retry-After, not more.
    assert!(gap < Duration::from_secs(8), "waited {gap:?}");
    assert!(started.elapsed() >= Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_capped_by_max_backoff() {
    let server = RawServer::start(vec![
        Reply::json(503, json!({"detail": "maintenance"})).with_header("retry-after", "3600"),
        ok(),
    ])
    .await;
    client(&server, policy(Duration::from_secs(5)))
        .log(&LogRequest::default())
        .await
        .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_secs(5) && gap < Duration::from_secs(6),
        "waited {gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn gives_up_when_the_wait_would_pass_max_elapsed() {
    let server = RawServer::start(vec![
        Reply::json(429, json!({"detail": "slow down"})).with_header("retry-after", "20"),
        ok(),
    ])
    .await;
    let mut p = policy(Duration::from_secs(60));
    p.max_elapsed = Duration::from_secs(10);
    let err = client(&server, p)
        .log(&LogRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(20)));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_http_date_is_understood() {
    let when = SystemTime::now() + Duration::from_secs(120);
    let server = RawServer::start(vec![Reply::json(429, json!({"detail": "later"}))
        .with_header("retry-after", httpdate::fmt_http_date(when))])
    .await;
    let err = client(&server, RetryPolicy::none())
        .log(&LogRequest::default())
        .await
        .unwrap_err();
    let after = err.retry_after().unwrap();
    // HTTP-dates have one-second resolution and the clock moved a little since.
    assert!(
        after > Duration::from_secs(100) && after <= Duration::from_secs(120),
        "{after:?}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("Retry-After"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_wins_over_a_longer_computed_backoff() {
    let server = RawServer::start(vec![
        Reply::json(429, json!({"detail": "slow down"})).with_header("retry-after", "1"),
        ok(),
    ])
    .await;
    let mut p = policy(Duration::from_secs(60));
    p.initial_backoff = Duration::from_secs(60);
    client(&server, p)
        .log(&LogRequest::default())
        .await
        .unwrap();
    let reqs = server.requests();
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_secs(1) && gap < Duration::from_secs(2),
        "waited {gap:?}"
    );
}
