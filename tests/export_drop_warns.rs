//! Dropping the last `Humanloop` handle without `shutdown` warns once (pointing at
//! `shutdown`), and the worker still delivers what was queued in the background.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::endpoint::handle;
use std::time::Duration;

use harness::endpoint::Recorder;
use harness::faults::Events;
use humanloop_tracing::step;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::test]
async fn drop_without_shutdown_warns_once_and_still_delivers() {
    let rec = Recorder::start().await;
    let warnings = Events::default();
    let hl = handle(rec.config().schedule_delay(Duration::from_secs(3600)));
    let _guard = tracing_subscriber::registry()
        .with(warnings.clone())
        .with(hl.tracing_layer())
        .set_default();
    step("queued").in_scope(|| {});
    // The layer holds no owning handle: this drop is the last one.
    drop(hl);

    let second = handle(rec.config());
    drop(second);

    let shutdown_warnings: Vec<String> = warnings
        .at(tracing::Level::WARN)
        .into_iter()
        .filter(|m| m.contains("shutdown"))
        .collect();
    assert_eq!(shutdown_warnings.len(), 1, "{shutdown_warnings:?}");

    // The worker drains in the background (the long schedule delay does not hold it back).
    for _ in 0..500 {
        if rec.patches().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rec.steps().len(), 1);
    assert_eq!(rec.patches().len(), 1);
}
