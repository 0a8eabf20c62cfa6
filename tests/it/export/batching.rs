//! Batches leave by count (`max_batch_size`) even with a long delay, and by delay
//! (`schedule_delay`) even when small; `flush` sends what is left at once.

use crate::harness::endpoint::{handle, traced};
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::step;

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never met");
}

#[tokio::test]
async fn a_full_batch_goes_without_waiting_for_the_delay() {
    let rec = Recorder::start().await;
    let hl = handle(
        rec.config()
            .schedule_delay(Duration::from_secs(3600))
            .max_batch_size(3),
    );
    let _guard = traced(&hl);
    // Two steps: two creates and two patches queued (four records, over the batch size).
    step("one").in_scope(|| {});
    step("two").in_scope(|| {});
    // The creates go as one array; the patches wait for them (causal order).
    wait_until(|| rec.logs().len() == 2).await;
    let posts: Vec<_> = rec.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body.as_array().unwrap().len(), 2);
    // The two patches left are under the batch size and the delay is an hour: flush sends them.
    hl.flush(Duration::from_secs(10)).await.unwrap();
    assert_eq!(rec.patches().len(), 2);
    rec.assert_causal_order(&[]);
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
async fn a_lone_record_goes_after_the_delay() {
    let rec = Recorder::start().await;
    let hl = handle(
        rec.config()
            .schedule_delay(Duration::from_millis(20))
            .max_batch_size(1000),
    );
    let _guard = traced(&hl);
    let open = step("open");
    let _entered = open.enter();
    // Neither a full batch nor a flush: only the delay sends it.
    // (`sent` counts the answer, after the endpoint recorded the request: wait for it.)
    wait_until(|| hl.stats().sent == 1).await;
    assert_eq!(rec.logs().len(), 1);
}
