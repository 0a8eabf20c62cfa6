//! Fault: the endpoint answers 429 with `Retry-After`. The exporter waits as told (its
//! backoff alone would retry sooner), an LLM call made meanwhile completes
//! with the provider's bytes before the retry arrives, and the record is delivered once.

use crate::harness::endpoint::handle;
use crate::harness::faults::{tally, traced_client};
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{call, delivered_once, until};
use crate::harness::provider::chat_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_calls_are_unaffected() {
    let rec = Recorder::start().await;
    rec.script([Behaviour::RetryAfter(2)]);
    let url = chat_url().await;
    let hl = handle(rec.config());
    let (_guard, http) = traced_client(&hl);

    call(&http, &url).await;
    until("the 429", || !rec.requests().is_empty()).await;
    call(&http, &url).await;
    // The second call returned while the exporter was still waiting out `Retry-After`.
    assert_eq!(rec.requests().len(), 1, "retried before Retry-After");
    assert_eq!(hl.stats().sent, 0);

    hl.shutdown(Duration::from_secs(20)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(tally(&stats), (2, 1, 0, 0, 0), "{stats:?}");
    assert_eq!(delivered_once(&rec).len(), 2);
}
