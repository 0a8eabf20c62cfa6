//! Fault: the endpoint answers 500 for a period, then recovers. The period is scaled down
//! from a real outage (minutes) to the few calls the test makes while the endpoint is
//! failing; the test, not a clock, decides when it recovers. LLM calls made during the
//! outage complete with the provider's bytes before the endpoint has answered anything
//! successfully (ordering evidence that the caller never waits on the exporter); after
//! recovery each record is delivered exactly once, and every failed attempt is one retry.
//! No retry policy is set: the default keeps records through the outage.

use crate::harness::endpoint::handle;
use crate::harness::faults::{tally, traced_client};
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{call, delivered_once, until};
use crate::harness::provider::chat_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_unaffected_and_records_delivered_once_after_500s() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Fail(500));
    let url = chat_url().await;
    let hl = handle(rec.config().max_queue_size(16));
    let (_guard, http) = traced_client(&hl);

    call(&http, &url).await;
    until("the exporter retrying against the failing endpoint", || {
        rec.requests().len() >= 3
    })
    .await;
    for _ in 0..3 {
        call(&http, &url).await;
    }
    // All four calls returned while the endpoint had not yet accepted anything.
    assert!(rec.requests().iter().all(|r| r.answered.is_none()));
    assert!(hl.stats().queued <= 16, "the queue stays bounded");

    rec.set_default(Behaviour::Ok); // recovery
    hl.shutdown(Duration::from_secs(20)).await.unwrap();

    let failures = rec
        .requests()
        .iter()
        .filter(|r| r.answered.is_none())
        .count() as u64;
    let stats = hl.stats();
    assert_eq!(tally(&stats), (4, failures, 0, 0, 0), "{stats:?}");
    assert_eq!(delivered_once(&rec).len(), 4);
}
