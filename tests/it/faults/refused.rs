//! Fault: connections are refused (nothing listens on the endpoint's port), then the
//! endpoint comes up on that port. LLM calls made while it is down complete with the
//! provider's bytes while the exporter is retrying; once it is up each record is
//! delivered exactly once.

use crate::harness::endpoint::shut_down_settled;
use crate::harness::faults::traced_client;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use crate::harness::faults::{call, delivered_once, until};
use crate::harness::provider::chat_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_then_the_endpoint_comes_up() {
    let port = crate::harness::adapters::free_port();
    let url = chat_url().await;
    let hl = crate::harness::faults::small_queue_humanloop(format!("http://127.0.0.1:{port}/v4"));
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
    shut_down_settled(&hl, Duration::from_secs(20), (3, 0, 0, 0)).await;
    // The endpoint saw no failed attempt: every retry before it came up was refused.
    assert!(rec.requests().iter().all(|r| r.answered.is_some()));
    assert_eq!(delivered_once(&rec).len(), 3);
}
