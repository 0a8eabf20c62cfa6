//! `request_timeout` bounds a whole answer, and for a stream only the wait for its head:
//! a stream that keeps sending may run longer. Paused tokio time, server in the same
//! runtime, so "longer" is exact.

use crate::harness::raw::collected;
use std::time::Duration;

use crate::harness::raw::{assert_transport, RawServer, Reply};
use humanloop_tracing::api::{CompletionModelConfigRequest, LogRequest};
use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::error::TransportKind;
use humanloop_tracing::{Client, Error};

const TIMEOUT: Duration = Duration::from_secs(5);

fn client(server: &RawServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .request_timeout(TIMEOUT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// A stream whose head comes at once, with one event every 2 s for 10 s in all.
fn slow_stream() -> Reply {
    let mut pieces: Vec<String> = (0..5)
        .map(|i| {
            format!("data: {{\"data\":[{{\"index\":0,\"output\":\"{i}\"}}],\"provider_responses\":[]}}\n\n")
        })
        .collect();
    pieces.push(
        "data: {\"data\":[{\"index\":0,\"output\":\"!\",\"finish_reason\":\"stop\"}],\"provider_responses\":[]}\n\n"
            .into(),
    );
    Reply::Pieces {
        status: 200,
        content_type: "text/event-stream",
        pieces: pieces.into_iter().map(String::into_bytes).collect(),
        pause: Duration::from_secs(2),
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_may_outlive_the_request_timeout() {
    let server = RawServer::start(vec![slow_stream()]).await;
    let started = tokio::time::Instant::now();
    let samples = collected(
        &client(&server),
        &CompletionModelConfigRequest::new("config_abc"),
    )
    .await;
    assert_eq!(samples[0].output, "01234!");
    assert!(
        started.elapsed() >= Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_whole_answer_may_not() {
    // The same slow body, but for a call that waits for the whole answer.
    let server = RawServer::start(vec![slow_stream()]).await;
    let started = tokio::time::Instant::now();
    let err = client(&server)
        .log(&LogRequest::default())
        .await
        .unwrap_err();
    assert_transport(&err, TransportKind::Timeout);
    assert!(err.is_retryable());
    let waited = started.elapsed();
    assert!(
        waited >= TIMEOUT && waited < TIMEOUT + Duration::from_secs(1),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_head_that_never_comes_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let client = Client::builder()
        .base_url(format!("http://{addr}/v4"))
        .request_timeout(TIMEOUT)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = client
        .completion_model_config_stream(&CompletionModelConfigRequest::new("config_abc"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Timeout,
                source: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("request_timeout"), "{err}");
    assert!(started.elapsed() >= TIMEOUT);
}
