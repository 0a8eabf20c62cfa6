//! For the fault tests: a traced call to the provider's chat fixture, the exactly-once
//! check, a `Humanloop` whose exporter runs on a paused test runtime, log families and an
//! event recorder.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use humanloop_tracing::api::{LogRequest, ToolConfig};
use humanloop_tracing::export::LogExporter;
use humanloop_tracing::{Config, Humanloop};

use super::endpoint::Recorder;
use super::fixtures::fixture;
use super::provider::CHAT_FIXTURE;

/// One LLM call; asserts the caller got the provider's bytes unchanged.
pub async fn call(http: &reqwest_middleware::ClientWithMiddleware, url: &str) {
    let resp = http
        .post(url)
        .header("authorization", "Bearer sk-test")
        .json(&serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello"}],
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(resp.bytes().await.unwrap(), fixture(CHAT_FIXTURE));
}

/// Assert that `hl`'s exporter sent `sent` records after `retried` retries and lost none:
/// none failed, dropped or still queued.
pub fn assert_all_sent(hl: &Humanloop, sent: u64, retried: u64) {
    let expected = [
        ("sent", sent),
        ("failed", 0),
        ("dropped", 0),
        ("queued", 0),
        ("retried", retried),
    ];
    super::endpoint::assert_stats(hl, &expected);
}

/// Wait (bounded) until `cond` holds.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Reference ids of the logs in POSTs the endpoint answered successfully, each asserted
/// to be there once; every POST it saw carried only these ids (retries reuse them).
pub fn delivered_once(rec: &Recorder) -> Vec<String> {
    let mut ok: HashMap<String, usize> = HashMap::new();
    let mut all = Vec::new();
    for r in rec.requests().iter().filter(|r| r.method == "POST") {
        for l in r.body.as_array().unwrap() {
            let id = l["reference_id"].as_str().unwrap().to_owned();
            if r.answered.is_some() {
                *ok.entry(id.clone()).or_insert(0) += 1;
            }
            all.push(id);
        }
    }
    for (id, n) in &ok {
        assert_eq!(*n, 1, "{id} delivered {n} times");
    }
    for id in &all {
        assert!(
            ok.contains_key(id),
            "{id} was attempted but never delivered"
        );
    }
    let mut ids: Vec<String> = ok.into_keys().collect();
    ids.sort();
    ids
}

/// A `Humanloop` with the default configuration (only the endpoint's URL differs) whose
/// exporter runs on the current runtime, so that a paused clock drives its delays and
/// backoffs (`#[tokio::test(start_paused = true)]`).
pub fn paused_humanloop(base_url: &str) -> Humanloop {
    Humanloop::with_exporter(
        Config::builder().base_url(base_url).build().unwrap(),
        LogExporter::builder().runtime(tokio::runtime::Handle::current()),
    )
    .unwrap()
}

/// A step log with this reference id (and parent), in session `session`.
pub fn log(reference: &str, parent: Option<&str>, session: &str) -> LogRequest {
    let mut log = LogRequest::default()
        .with_reference_id(reference)
        .with_session_reference_id(session)
        .with_project("faults")
        .with_config(ToolConfig::new("step"))
        .with_output(format!("output of {reference}"));
    log.parent_reference_id = parent.map(str::to_owned);
    log
}

/// Log a parent and its child (in a session named `name`); their reference ids. Both
/// are accepted at once, whatever the endpoint is doing.
pub fn family(hl: &Humanloop, name: &str) -> [String; 2] {
    let parent = format!("{name}-parent");
    let child = format!("{name}-child");
    assert!(hl.log(log(&parent, None, name)), "accepted without waiting");
    assert!(
        hl.log(log(&child, Some(&parent), name)),
        "accepted without waiting"
    );
    [parent, child]
}

/// A [`family`] for each session `{prefix}{i}`, `i` in `sessions`; every reference id.
pub fn families(hl: &Humanloop, prefix: &str, sessions: std::ops::Range<usize>) -> Vec<String> {
    sessions
        .flat_map(|i| family(hl, &format!("{prefix}{i}")))
        .collect()
}

/// Gaps between consecutive requests the endpoint saw (by arrival, tokio clock).
pub fn gaps(rec: &Recorder) -> Vec<Duration> {
    let reqs = rec.requests();
    reqs.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// Events of this crate: `(level, message)`.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl Events {
    pub fn at(&self, level: tracing::Level) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "humanloop_tracing" {
            return;
        }
        struct Msg(String);
        impl tracing::field::Visit for Msg {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        let mut m = Msg(String::new());
        event.record(&mut m);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), m.0));
    }
}

/// `hl`'s layer as this thread's subscriber, and a client through `hl.middleware()`.
pub fn traced_client(
    hl: &Humanloop,
) -> (
    tracing::subscriber::DefaultGuard,
    reqwest_middleware::ClientWithMiddleware,
) {
    (
        super::endpoint::traced(hl),
        super::adapters::reqwest_client(hl),
    )
}

/// `(sent, retried, dropped, failed, queued)`: what the fault tests compare at once.
pub fn tally(stats: &humanloop_tracing::export::ExportStats) -> (u64, u64, u64, u64, u64) {
    (
        stats.sent,
        stats.retried,
        stats.dropped,
        stats.failed,
        stats.queued,
    )
}

/// A `Humanloop` exporting to `base_url` every 20 ms with a queue of 16 records: the fault
/// tests' endpoint that is down or unreachable.
pub fn small_queue_humanloop(base_url: String) -> Humanloop {
    super::endpoint::handle(
        humanloop_tracing::Config::builder()
            .base_url(base_url)
            .api_key("hl-test-key")
            .schedule_delay(Duration::from_millis(20))
            .max_queue_size(16),
    )
}
