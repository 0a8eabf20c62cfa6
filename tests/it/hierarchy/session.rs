//! The whole hierarchy through the middleware: a session with a step holding a plain LLM
//! call, a streaming call and a nested step with its own call, made through
//! `hl.middleware()` against an OpenAI-compatible server on loopback (answers from the
//! documented fixtures, see tests/fixtures/SOURCES.md). The recorded logs form the tree.

use crate::harness::endpoint::{handle, traced};
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use crate::harness::provider::{chat_url, CHAT_FIXTURE};
use humanloop_tracing::{session, step};
use serde_json::Value;
use tracing::Instrument;
use tracing_subscriber::util::SubscriberInitExt;

async fn call(
    http: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    text: &str,
    stream: bool,
) {
    let body = serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    });
    let resp = http
        .post(url)
        .header("authorization", "Bearer sk-test")
        // The provider answers from the documented fixtures, streamed when asked to.
        .header(
            "x-fixture",
            if stream {
                "openai/chat_stream_include_usage.sse"
            } else {
                CHAT_FIXTURE
            },
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let bytes = resp.bytes().await.unwrap();
    assert!(!bytes.is_empty());
}

#[tokio::test]
async fn session_steps_and_calls_form_one_tree() {
    let rec = Recorder::start().await;
    let url = chat_url().await;
    let hl = handle(rec.config());
    let _guard = traced(&hl);
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();

    async {
        async {
            call(&http, &url, "plain call", false).await;
            call(&http, &url, "streaming call", true).await;
            async { call(&http, &url, "nested call", false).await }
                .instrument(step("nested"))
                .await;
        }
        .instrument(step("plan"))
        .await;
    }
    .instrument(session("conversation-9"))
    .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    let logs: Vec<Value> = rec.logs().into_iter().map(|(_, l)| l).collect();
    let calls: Vec<&Value> = logs
        .iter()
        .filter(|l| l["config"]["type"] == "model")
        .collect();
    assert_eq!(calls.len(), 3, "{logs:#?}");
    assert_eq!(rec.steps().len(), 2);
    for l in &logs {
        assert_eq!(l["session_reference_id"], "conversation-9", "{l}");
    }
    let plan = rec.step("plan");
    let nested = rec.step("nested");
    assert!(plan.get("parent_reference_id").is_none());
    assert_eq!(nested["parent_reference_id"], plan["reference_id"]);

    let call_for = |text: &str| {
        *calls
            .iter()
            .find(|l| l.to_string().contains(text))
            .unwrap_or_else(|| panic!("no log for {text}: {calls:#?}"))
    };
    assert_eq!(
        call_for("plain call")["parent_reference_id"],
        plan["reference_id"]
    );
    assert_eq!(
        call_for("streaming call")["parent_reference_id"],
        plan["reference_id"]
    );
    assert_eq!(
        call_for("nested call")["parent_reference_id"],
        nested["reference_id"]
    );
    // Each call has a reference id of its own.
    let mut refs: Vec<&str> = logs
        .iter()
        .map(|l| l["reference_id"].as_str().unwrap())
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 5);
    rec.assert_causal_order(&[]);
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.failed, stats.dropped),
        (7, 0, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn without_the_hierarchy_layer_calls_are_logged_flat() {
    let rec = Recorder::start().await;
    let url = chat_url().await;
    let hl = handle(rec.config());
    // A subscriber without the hierarchy layer: session spans mean nothing to it.
    let _guard = tracing_subscriber::registry().set_default();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    async { call(&http, &url, "flat call", false).await }
        .instrument(session("ignored"))
        .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    let logs = rec.logs();
    assert_eq!(logs.len(), 1);
    let log = &logs[0].1;
    assert!(log.get("session_reference_id").is_none(), "{log}");
    assert!(log.get("parent_reference_id").is_none(), "{log}");
    assert!(log["reference_id"].as_str().is_some_and(|r| !r.is_empty()));
}
