//! Sessions survive natural code: for every way a step and a session are put around an
//! LLM call (the `HierarchyExt` adaptors, `.instrument` chains, `in_scope`, spawned tasks)
//! the call's log says which session and which step it belongs to, and a step that
//! begins outside any session is warned about, once. One test, because the warning is
//! once per process.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::endpoint::handle;
use harness::faults::Events;
use std::time::Duration;

use axum::response::IntoResponse;
use harness::endpoint::Recorder;
use humanloop_tracing::hierarchy::HierarchyExt;
use humanloop_tracing::{session, step};
use serde_json::Value;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

async fn llm_server() -> String {
    let body = std::fs::read(format!(
        "{}/tests/fixtures/openai/chat_basic.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1/chat/completions")
}

/// One LLM call whose prompt names the case.
fn call(
    http: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    case: &str,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (http, url) = (http.clone(), url.to_owned());
    let body = serde_json::json!({"model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": format!("case {case}")}]});
    async move {
        let resp = http.post(&url).json(&body).send().await.unwrap();
        assert!(resp.status().is_success());
        resp.bytes().await.unwrap();
    }
}

#[tokio::test]
async fn session_order_every_ordering() {
    let rec = Recorder::start().await;
    let url = llm_server().await;
    let hl = handle(rec.config());
    let events = Events::default();
    let warnings = || events.at(tracing::Level::WARN);
    let _guard = tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(events.clone())
        .set_default();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let h = &http;
    let u = url.as_str();

    // 1. The adaptors, chained as they read: the session is made at first poll, then the
    //    step inside it.
    call(h, u, "adaptors")
        .in_step("s-adaptors")
        .in_session("k-adaptors")
        .await;
    // 2. `.instrument`, the session entered before the step is made.
    async {
        call(h, u, "instrument-inside")
            .instrument(step("s-instrument-inside"))
            .await
    }
    .instrument(session("k-instrument-inside"))
    .await;
    // 3. `in_scope`: a step made inside the session's scope, awaited outside it.
    let fut =
        session("k-in-scope").in_scope(|| call(h, u, "in-scope").instrument(step("s-in-scope")));
    fut.await;
    // 4. `in_scope` with the adaptor: the span current when it was made is the parent.
    let fut = session("k-in-scope-adaptor")
        .in_scope(|| call(h, u, "in-scope-adaptor").in_step("s-in-scope-adaptor"));
    fut.await;
    // 5. A task spawned inside a session, its step made by the adaptor.
    async {
        tokio::spawn(call(h, u, "spawned").in_step("s-spawned"))
            .await
            .unwrap();
    }
    .in_session("k-spawned")
    .await;
    // 6. A task spawned with its whole hierarchy.
    tokio::spawn(
        call(h, u, "spawned-whole")
            .in_step("s-spawned-whole")
            .in_session("k-spawned-whole"),
    )
    .await
    .unwrap();
    // 7. A session adaptor around an `.instrument`ed step made inside it.
    async { call(h, u, "mixed").instrument(step("s-mixed")).await }
        .in_session("k-mixed")
        .await;
    assert!(warnings().is_empty(), "{:?}", warnings());

    // 8. The natural `.instrument` chain makes the step before the session: it is not in
    //    the session (tracing gives a span its parent when it is made), and that is what
    //    the warning names.
    call(h, u, "instrument-chain")
        .instrument(step("s-instrument-chain"))
        .instrument(session("k-instrument-chain"))
        .await;
    let warned = warnings();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("in_step(..).in_session(..)"),
        "{warned:?}"
    );
    // Once per process.
    call(h, u, "outside-again").in_step("s-outside-again").await;
    assert_eq!(warnings().len(), 1);

    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    let logs: Vec<Value> = rec.logs().into_iter().map(|(_, l)| l).collect();
    let call_log = |case: &str| -> Value {
        logs.iter()
            .find(|l| {
                l["config"]["type"] == "model" && l.to_string().contains(&format!("case {case}\""))
            })
            .unwrap_or_else(|| panic!("no log for {case}: {logs:#?}"))
            .clone()
    };
    for case in [
        "adaptors",
        "instrument-inside",
        "in-scope",
        "in-scope-adaptor",
        "spawned",
        "spawned-whole",
        "mixed",
    ] {
        let log = call_log(case);
        let step = rec.step(&format!("s-{case}"));
        assert_eq!(
            log["session_reference_id"],
            format!("k-{case}"),
            "{case}: {log:#}"
        );
        assert_eq!(
            step["session_reference_id"],
            format!("k-{case}"),
            "{case}: {step:#}"
        );
        assert_eq!(
            log["parent_reference_id"], step["reference_id"],
            "{case}: under its step"
        );
    }
    let chained = call_log("instrument-chain");
    assert_ne!(chained["session_reference_id"], "k-instrument-chain");
    assert_eq!(
        chained["parent_reference_id"],
        rec.step("s-instrument-chain")["reference_id"]
    );
}
