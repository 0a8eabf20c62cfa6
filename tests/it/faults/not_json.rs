//! Fault: the endpoint answers 200 with a body that is not JSON (a maintenance page of a
//! proxy). That answer cannot be trusted, and it is not a refusal, so the record is kept and
//! sent again with the same `reference_id` (an endpoint that dedupes stores it once); the
//! caller's LLM calls are unaffected and every record is delivered once the endpoint
//! answers properly.

use crate::harness::endpoint::handle;
use crate::harness::faults::{tally, traced_client};
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{call, delivered_once, until};
use crate::harness::provider::chat_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_answer_is_retried_and_calls_are_unaffected() {
    let rec = Recorder::start().await;
    rec.script([Behaviour::NotJson]);
    let url = chat_url().await;
    let hl = handle(rec.config());
    let (_guard, http) = traced_client(&hl);

    call(&http, &url).await;
    until("the non-JSON answer", || hl.stats().retried == 1).await;
    call(&http, &url).await;
    hl.shutdown(Duration::from_secs(20)).await.unwrap();

    let stats = hl.stats();
    assert_eq!(tally(&stats), (2, 1, 0, 0, 0), "{stats:?}");
    // The first record was sent twice under one reference id, answered properly once.
    let posts: Vec<_> = rec.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0].body, posts[1].body);
    assert_eq!(delivered_once(&rec).len(), 2);
}
