//! Steps nested in a session: one session_reference_id, each parent_reference_id names the
//! enclosing step (plain spans skipped over), across `.await`, `tokio::spawn` with
//! `in_current_span`, and a span handed to another thread; every step patched after its POST.

use crate::harness::endpoint::{handle, traced};
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::{hierarchy, session, step};
use serde_json::Value;
use tracing::field::Empty;
use tracing::Instrument;

#[tracing::instrument(fields(humanloop.step = "search", humanloop.inputs.query = query, humanloop.output))]
async fn search(query: &str) -> String {
    tokio::task::yield_now().await;
    let hits = format!("3 flights for {query}");
    tracing::Span::current().record("humanloop.output", hits.as_str());
    hits
}

#[tracing::instrument(fields(humanloop.step = "book"), err)]
async fn book() -> Result<(), String> {
    Err("no seats left".into())
}

#[tracing::instrument(fields(humanloop.step = "answer"), ret(Display))]
fn answer() -> u32 {
    42
}

fn reference(v: &Value) -> &str {
    v["reference_id"].as_str().expect("reference_id")
}

#[tokio::test]
async fn nested_steps_share_the_session_and_name_their_parents() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config().max_batch_size(4));
    let _guard = traced(&hl);

    async {
        async {
            // A plain span between two steps is skipped over.
            async {
                search("Lisbon").await;
            }
            .instrument(tracing::info_span!("plain"))
            .await;

            let s = step("summarise");
            hierarchy::record_input(&s, "n", 3);
            async {
                hierarchy::record_output(&tracing::Span::current(), "a summary");
            }
            .instrument(s)
            .await;

            let _ = book().await;
            answer();

            tokio::spawn(async { async {}.instrument(step("spawned")).await }.in_current_span())
                .await
                .unwrap();

            let handed = step("threaded");
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            // The span is dropped inside `with_default`: the registry closes a parent through
            // the thread's default dispatcher.
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, move || {
                    let _entered = handed.enter();
                    tracing::info_span!(
                        "in-thread",
                        humanloop.step = "in-thread",
                        humanloop.output = Empty
                    )
                    .in_scope(|| {
                        tracing::Span::current().record("humanloop.output", "done");
                    });
                })
            })
            .join()
            .unwrap();
        }
        .instrument(step("outer"))
        .await;
    }
    .instrument(session("conversation-42"))
    .await;

    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    let steps = rec.steps();
    assert_eq!(steps.len(), 8, "{steps:#?}");
    for s in &steps {
        assert_eq!(s["session_reference_id"], "conversation-42", "{s}");
        assert_eq!(s["save"], true);
    }
    let outer = rec.step("outer");
    assert!(
        outer.get("parent_reference_id").is_none(),
        "top-level step has no parent"
    );
    for name in [
        "search",
        "summarise",
        "book",
        "answer",
        "spawned",
        "threaded",
    ] {
        assert_eq!(
            rec.step(name)["parent_reference_id"],
            reference(&outer),
            "{name} is under outer"
        );
    }
    let threaded = rec.step("threaded");
    assert_eq!(
        rec.step("in-thread")["parent_reference_id"],
        reference(&threaded)
    );

    // Inputs at open, output/error/duration at close.
    assert_eq!(rec.step("search")["inputs"]["query"], "Lisbon");
    assert_eq!(rec.step("summarise")["inputs"]["n"], 3);
    for (step, field, expected) in [
        ("search", "output", "3 flights for Lisbon"),
        ("summarise", "output", "a summary"),
        ("in-thread", "output", "done"),
        ("book", "error", "no seats left"),
        ("answer", "output", "42"),
    ] {
        assert_eq!(
            rec.patch_for(reference(&rec.step(step)))[field],
            expected,
            "{step}: {field}"
        );
    }
    // Every step patched exactly once, with a duration.
    for s in &steps {
        let patch = rec.patch_for(reference(s));
        assert!(patch["duration"].as_f64().unwrap() >= 0.0);
    }
    rec.assert_causal_order(&[]);

    let stats = hl.stats();
    assert_eq!((stats.queued, stats.dropped, stats.failed), (0, 0, 0));
    assert_eq!(stats.sent, 16, "8 creates and 8 patches");
    // Batches are arrays no longer than max_batch_size.
    for r in rec.requests().iter().filter(|r| r.method == "POST") {
        assert!(r.body.as_array().unwrap().len() <= 4);
    }
}

#[tokio::test]
async fn without_a_session_each_trace_is_one() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config());
    let _guard = traced(&hl);

    for trace in ["a", "b"] {
        async {
            async {}.instrument(step(format!("{trace}-child"))).await;
        }
        .instrument(step(format!("{trace}-root")))
        .await;
    }
    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    let session = |name: &str| rec.step(name)["session_reference_id"].clone();
    assert!(session("a-root").is_string());
    assert_eq!(session("a-root"), session("a-child"));
    assert_eq!(session("b-root"), session("b-child"));
    assert_ne!(session("a-root"), session("b-root"));
    rec.assert_causal_order(&[]);
}
