//! Fault: connections are refused (nothing listens on the endpoint's port), then the
//! endpoint comes up on that port. LLM calls made while it is down complete with the
//! provider's bytes while the exporter is retrying; once it is up each record is
//! delivered exactly once.

use crate::harness::endpoint::handle;
use crate::harness::faults::traced_client;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use crate::harness::faults::{call, delivered_once, until};
use crate::harness::provider::chat_url;
use humanloop_tracing::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_then_the_endpoint_comes_up() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = chat_url().await;
    let hl = handle(
        Config::builder()
            .base_url(format!("http://127.0.0.1:{port}/v4"))
            .api_key("hl-test-key")
            .schedule_delay(Duration::from_millis(20))
            .max_queue_size(16),
    );
    let (_guard, http) = traced_client(&hl);

    call(&http, &url).await;
    until("the exporter retrying refused connections", || {
        hl.stats().retried >= 2
    })
    .await;
    call(&http, &url).await;
    call(&http, &url).await;
    let stats = hl.stats();
    assert_eq!(stats.sent, 0, "calls returned while the endpoint was down");
    assert!(stats.queued <= 16);

    let rec = Recorder::start_on(port).await; // the endpoint comes up on that port
    hl.shutdown(Duration::from_secs(20)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed, stats.queued),
        (3, 0, 0, 0),
        "{stats:?}"
    );
    // The endpoint saw no failed attempt: every retry before it came up was refused.
    assert!(rec.requests().iter().all(|r| r.answered.is_some()));
    assert_eq!(delivered_once(&rec).len(), 3);
}
