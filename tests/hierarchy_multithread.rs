//! With a global subscriber and a multi-threaded runtime, steps spawned onto other worker
//! threads (`tokio::spawn(fut.in_current_span())`) and resumed after `.await` on any thread
//! still name their parent step and share the session.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::endpoint::handle;
use std::time::Duration;

use harness::endpoint::Recorder;
use humanloop_tracing::{session, step};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_steps_on_other_threads_keep_their_parent() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config());
    tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .init();

    async {
        async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    tokio::spawn(
                        async move {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            async { tokio::task::yield_now().await }
                                .instrument(step(format!("leaf-{i}")))
                                .await;
                        }
                        .in_current_span(),
                    )
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
        .instrument(step("fan-out"))
        .await;
    }
    .instrument(session("mt"))
    .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    let fan_out = rec.step("fan-out");
    for i in 0..8 {
        let leaf = rec.step(&format!("leaf-{i}"));
        assert_eq!(leaf["parent_reference_id"], fan_out["reference_id"]);
        assert_eq!(leaf["session_reference_id"], "mt");
    }
    assert_eq!(rec.patches().len(), 9);
    rec.assert_causal_order(&[]);
}
