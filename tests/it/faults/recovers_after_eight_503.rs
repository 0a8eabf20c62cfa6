//! The headline check of the outage promise: an endpoint that answers 503 eight times in a
//! row and then recovers, with the default configuration (only the URL differs), receives
//! every record exactly once, parents before children, and `shutdown` returns `Ok`. The
//! exporter runs on this test's runtime, whose clock is paused, so its backoff is real
//! (500 ms doubling, full jitter) without the test waiting for it.

use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use crate::harness::faults::{assert_all_sent, delivered_once, families, paused_humanloop};

#[tokio::test(start_paused = true)]
async fn eight_503s_then_recovery_deliver_everything_once_and_shutdown_is_ok() {
    let rec = Recorder::start().await;
    rec.script([Behaviour::Fail(503); 8]);
    let hl = paused_humanloop(&rec.base_url);

    let mut expected = families(&hl, "s", 0..10);
    hl.shutdown(Duration::from_secs(300)).await.unwrap();

    assert_all_sent(&hl, 20, 8);
    expected.sort();
    assert_eq!(delivered_once(&rec), expected);
    rec.assert_causal_order(&[]);
    // The eight 503s were eight probes of one request, not eight per record.
    let posts = rec.requests().len();
    assert_eq!(
        posts,
        8 + 2,
        "8 failed probes, the parents' batch, the children's"
    );
    assert_eq!(rec.max_in_flight(), 1);
}
