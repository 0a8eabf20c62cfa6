//! While the endpoint stalls, the exporter's queue stays bounded: overflow is dropped and
//! counted, callers never block, and `flush` returns at its deadline with the number of
//! records not delivered. Once the endpoint answers again, everything accepted is delivered.

use crate::harness::endpoint::{handle, traced};
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use humanloop_tracing::{step, ExportError};

#[tokio::test]
async fn stalled_endpoint_bounded_queue_and_flush_deadline() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Stall);
    let hl = handle(
        rec.config()
            .max_queue_size(8)
            .max_batch_size(2)
            .schedule_delay(Duration::from_millis(5)),
    );
    let _guard = traced(&hl);

    // 50 steps: 100 records offered (a create when each opens, a patch when it closes,
    // unless its create was dropped). None of this waits on the stalled endpoint.
    for i in 0..50 {
        step(format!("step-{i}")).in_scope(|| {});
        assert!(hl.stats().queued <= 8, "queue bounded: {:?}", hl.stats());
    }
    let stats = hl.stats();
    assert_eq!(stats.queued, 8, "{stats:?}");
    assert!(stats.dropped >= 40, "{stats:?}");
    assert_eq!(stats.sent, 0);

    // The endpoint is still stalled: flush gives up at its deadline and says what is left.
    let dropped = hl.stats().dropped;
    match hl.flush(Duration::from_millis(200)).await {
        Err(ExportError::Incomplete {
            undelivered,
            dropped: d,
            ..
        }) => assert_eq!((undelivered, d), (8, dropped)),
        other => panic!("expected a timeout, got {other:?}"),
    }

    // The endpoint recovers: everything accepted goes out, nothing more is dropped (the
    // drops were reported by the flush already).
    rec.release();
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.queued, stats.sent, stats.failed),
        (0, 8, 0),
        "{stats:?}"
    );
    assert_eq!(stats.dropped, dropped);
    let delivered = rec.logs().len() + rec.patches().len();
    assert_eq!(delivered, 8);
    rec.assert_causal_order(&[]);
}

#[tokio::test]
async fn records_after_shutdown_are_dropped_and_counted() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config());
    let _guard = traced(&hl);
    step("before").in_scope(|| {});
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    step("after").in_scope(|| {});
    let stats = hl.stats();
    assert_eq!((stats.sent, stats.queued), (2, 0), "{stats:?}");
    assert_eq!(
        stats.dropped, 1,
        "the create of `after`; its patch is never made"
    );
    assert_eq!(rec.steps().len(), 1);
    // A second shutdown returns at once, reporting the drop since the first.
    let err = hl.shutdown(Duration::from_secs(1)).await.unwrap_err();
    assert_eq!((err.dropped(), err.failed(), err.undelivered()), (1, 0, 0));
}

#[tokio::test]
async fn shutdown_gives_up_at_its_deadline_and_says_how_many() {
    let rec = Recorder::start().await;
    rec.set_default(Behaviour::Stall);
    let hl = handle(rec.config());
    let _guard = traced(&hl);
    step("stuck").in_scope(|| {});
    match hl.shutdown(Duration::from_millis(200)).await {
        // The create (in flight, stalled) and the patch waiting behind it.
        Err(ExportError::Incomplete { undelivered, .. }) => assert_eq!(undelivered, 2),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let stats = hl.stats();
    assert_eq!(
        (stats.queued, stats.sent, stats.dropped),
        (0, 0, 2),
        "{stats:?}"
    );
    rec.release();
}
