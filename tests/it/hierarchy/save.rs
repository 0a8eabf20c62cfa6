//! Step logs obey the save behaviour: `humanloop.save` per span (nearest wins), `save`,
//! `log_content`, the redaction hook, `on_log`, `humanloop.metadata.*`, and `enabled=false`.

use crate::harness::endpoint::{handle, traced};
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::{session, step, Humanloop};
use tracing::field::Empty;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

fn reference(v: &serde_json::Value) -> String {
    v["reference_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn save_overrides_redaction_and_metadata() {
    let rec = Recorder::start().await;
    let hl = handle(
        rec.config()
            .metadata("team", "core")
            .metadata("user", "config-user")
            .redact(|s: &mut String| *s = s.replace("4111-1111", "[card]")),
    );
    let _guard = traced(&hl);

    let conversation = tracing::info_span!(
        "conversation",
        humanloop.session = "s-1",
        humanloop.metadata.user = "u-1"
    );
    async {
        let pay = tracing::info_span!(
            "pay",
            humanloop.step = "pay",
            humanloop.inputs.card = "4111-1111",
            humanloop.inputs.nested = ?vec!["x 4111-1111"],
            humanloop.output = Empty,
            humanloop.error = Empty,
        );
        pay.in_scope(|| {
            let s = tracing::Span::current();
            s.record("humanloop.output", "charged 4111-1111");
            s.record("humanloop.error", "declined 4111-1111");
        });
        drop(pay);

        async {
            let private = tracing::info_span!(
                "private",
                humanloop.step = "private",
                humanloop.inputs.q = "hidden",
                humanloop.output = Empty,
                humanloop.metadata.user = "u-2",
            );
            private.in_scope(|| {
                tracing::Span::current().record("humanloop.output", "hidden too");
            });
        }
        .instrument(tracing::info_span!("unsaved", humanloop.save = false))
        .await;
    }
    .instrument(conversation)
    .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    let pay = rec.step("pay");
    assert_eq!(pay["inputs"]["card"], "[card]");
    assert_eq!(pay["inputs"]["nested"], "[\"x [card]\"]");
    assert_eq!(pay["save"], true);
    assert_eq!(pay["metadata"]["team"], "core");
    assert_eq!(
        pay["metadata"]["user"], "u-1",
        "span metadata wins over config"
    );
    let patch = rec.patch_for(&reference(&pay));
    assert_eq!(patch["output"], "charged [card]");
    assert_eq!(patch["error"], "declined [card]");

    let private = rec.step("private");
    assert_eq!(private["save"], false, "inherited from the enclosing span");
    assert!(private.get("inputs").is_none(), "{private}");
    assert_eq!(private["metadata"]["user"], "u-2", "nearest wins");
    let patch = rec.patch_for(&reference(&private));
    assert!(patch.get("output").is_none(), "{patch}");
    assert!(patch["duration"].is_number());

    let all =
        serde_json::to_string(&rec.requests().iter().map(|r| &r.body).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains("4111-1111"), "redacted everywhere");
    assert!(!all.contains("hidden"), "save=false payloads not sent");
    assert!(!rec
        .requests()
        .iter()
        .any(|r| format!("{r:?}").contains("hl-test-key")));
}

#[tokio::test]
async fn log_content_off_keeps_structure_and_errors_only() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config().log_content(false));
    let _guard = traced(&hl);
    tracing::info_span!(
        "s",
        humanloop.step = "s",
        humanloop.inputs.q = "question",
        humanloop.output = "answer",
        humanloop.error = "boom",
    )
    .in_scope(|| {});
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    let s = rec.step("s");
    assert!(s.get("inputs").is_none());
    assert_eq!(s["save"], true);
    let patch = rec.patch_for(&reference(&s));
    assert!(patch.get("output").is_none());
    assert_eq!(patch["error"], "boom");
}

#[tokio::test]
async fn on_log_can_drop_a_step_and_children_skip_over_it() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config()
            .on_log(|log| {
                !matches!(&log.config, Some(humanloop_tracing::api::LogConfig::Tool(t)) if t.name == "hidden")
            }));
    let _guard = traced(&hl);
    async {
        async {
            async {}.instrument(step("child")).await;
        }
        .instrument(step("hidden"))
        .await;
    }
    .instrument(step("top"))
    .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(rec.steps().len(), 2);
    assert_eq!(
        rec.step("child")["parent_reference_id"],
        rec.step("top")["reference_id"]
    );
    assert_eq!(rec.patches().len(), 2, "no patch for the dropped step");
    rec.assert_causal_order(&[]);
}

#[tokio::test]
async fn sampling_keeps_or_drops_whole_sessions_deterministically() {
    let rec = Recorder::start().await;
    let config = rec.config().sample_ratio(0.5).build().unwrap();
    let hl = Humanloop::new(config).unwrap();
    let _guard = traced(&hl);
    for i in 0..40 {
        async {
            async {
                async {}.instrument(step(format!("inner-{i}"))).await;
            }
            .instrument(step(format!("outer-{i}")))
            .await;
        }
        .instrument(session(format!("session-{i}")))
        .await;
    }
    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    let steps = rec.steps();
    let kept: Vec<usize> = (0..40)
        .filter(|i| {
            let names = [format!("outer-{i}"), format!("inner-{i}")];
            let n = steps
                .iter()
                .filter(|s| names.iter().any(|n| s["config"]["name"] == n.as_str()))
                .count();
            assert!(
                n == 0 || n == 2,
                "session {i} kept or dropped whole ({n} of 2)"
            );
            n == 2
        })
        .collect();
    assert!(!kept.is_empty() && kept.len() < 40, "kept {kept:?}");

    // Another process with the same ratio makes the same decisions.
    let rec2 = Recorder::start().await;
    let hl2 = handle(rec2.config().sample_ratio(0.5));
    let subscriber = tracing_subscriber::registry().with(hl2.tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..40 {
            let _s = session(format!("session-{i}")).entered();
            step(format!("outer-{i}")).in_scope(|| {});
        }
    });
    hl2.shutdown(Duration::from_secs(10)).await.unwrap();
    let mut kept2: Vec<usize> = rec2
        .steps()
        .iter()
        .map(|s| s["config"]["name"].as_str().unwrap()[6..].parse().unwrap())
        .collect();
    kept2.sort();
    assert_eq!(kept, kept2);
}

#[tokio::test]
async fn disabled_layer_does_nothing() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config().enabled(false));
    let _guard = traced(&hl);
    async {
        async {}.instrument(step("s")).await;
    }
    .instrument(session("k"))
    .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    assert!(rec.requests().is_empty());
    assert_eq!(hl.stats().sent, 0);
}
