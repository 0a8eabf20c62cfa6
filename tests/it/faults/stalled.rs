//! Fault: the endpoint accepts connections and never answers. Each export attempt is cut
//! by the exporter's request timeout (set small here) and retried with the same record;
//! LLM calls made while the endpoint is stalled complete with the provider's bytes; once
//! it answers again the record is delivered, and every attempt carried the same
//! `reference_id` (an endpoint that dedupes, like ours, stores it once).

use crate::harness::endpoint::handle;
use crate::harness::faults::traced_client;
use std::collections::HashSet;
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{call, until};
use crate::harness::provider::chat_url;
use humanloop_tracing::config::ExportConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_endpoint_times_out_retries_and_calls_are_unaffected() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Stall);
    let url = chat_url().await;
    let mut export = ExportConfig::default();
    export.export_timeout = Duration::from_millis(100);
    export.schedule_delay = Duration::from_millis(20);
    export.max_queue_size = 16;
    let hl = handle(rec.config().export(export));
    let (_guard, http) = traced_client(&hl);

    call(&http, &url).await;
    until("two timed-out attempts", || rec.requests().len() >= 2).await;
    call(&http, &url).await;
    call(&http, &url).await;
    assert!(rec.requests().iter().all(|r| r.answered.is_none()));
    assert!(hl.stats().queued <= 16);

    // Recover: new attempts are answered (stalled ones too, but the exporter gave up on
    // those already).
    let stalled_before = rec.requests().len();
    rec.release();
    hl.shutdown(Duration::from_secs(20)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed, stats.queued),
        (3, 0, 0, 0),
        "{stats:?}"
    );
    let requests = rec.requests();
    // Every attempt but the successful ones timed out and was retried.
    let posts = requests.iter().filter(|r| r.method == "POST").count() as u64;
    let successful_rounds = posts - stats.retried;
    assert!(stats.retried >= (stalled_before - 1) as u64, "{stats:?}");
    assert!(successful_rounds >= 1);
    // Three distinct records, whatever the number of attempts.
    let ids: HashSet<String> = requests
        .iter()
        .flat_map(|r| r.body.as_array().unwrap().clone())
        .map(|l| l["reference_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
}
