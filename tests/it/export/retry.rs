//! Transient failures are retried (default policy) and counted; a refusal fails the record
//! and its update, and `shutdown` says so; `flush` and `shutdown` work from any runtime,
//! and blocking variants from plain threads.

use crate::harness::endpoint::{handle, traced};
use std::time::Duration;

use crate::harness::endpoint::{Behaviour, Recorder};
use humanloop_tracing::step;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn transient_failures_are_retried_and_counted() {
    let rec = Recorder::start().await;
    rec.script([Behaviour::Fail(503), Behaviour::Fail(429)]);
    let hl = handle(rec.config());
    let _guard = traced(&hl);
    step("once").in_scope(|| {});
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(stats.retried, 2, "{stats:?}");
    assert_eq!(
        (stats.sent, stats.failed, stats.queued),
        (2, 0, 0),
        "{stats:?}"
    );
    // The same create arrived three times; the patch after the third was answered.
    let posts: Vec<_> = rec.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0].body, posts[2].body);
    rec.assert_causal_order(&[]);
}

#[tokio::test]
async fn refusals_are_not_retried_and_count_as_failed() {
    let rec = Recorder::start().await;
    rec.script([Behaviour::Fail(422)]);
    let hl = handle(rec.config());
    let _guard = traced(&hl);
    step("refused").in_scope(|| {});
    let err = hl.shutdown(Duration::from_secs(10)).await.unwrap_err();
    let stats = hl.stats();
    assert_eq!(stats.retried, 0, "{stats:?}");
    assert_eq!(stats.failed, 2, "the create and its patch: {stats:?}");
    assert_eq!(stats.sent, 0, "{stats:?}");
    // The patch of a refused create fails without a request that could only fail.
    assert!(rec.patches().is_empty());
    assert_eq!(err.failed(), 2, "{err}");
    assert!(err.to_string().contains("422"), "{err}");
}

#[test]
fn blocking_flush_and_shutdown_from_a_plain_thread() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rec = rt.block_on(Recorder::start());
    let hl = handle(rec.config());
    let subscriber = tracing_subscriber::registry().with(hl.tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        step("a").in_scope(|| {});
    });
    hl.flush_blocking(Duration::from_secs(10)).unwrap();
    assert_eq!(hl.stats().sent, 2);
    // flush from another runtime flavour (a current-thread runtime of its own).
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(hl.flush(Duration::from_secs(10)))
        .unwrap();
    hl.shutdown_blocking(Duration::from_secs(10)).unwrap();
    assert_eq!(rec.steps().len(), 1);
}
