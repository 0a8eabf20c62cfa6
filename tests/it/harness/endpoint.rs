//! The fake log endpoint: one recorder on 127.0.0.1 that answers `POST /v4/logs` and
//! `PATCH /v4/logs`, records every request with its arrival and answer order (one counter
//! for both), and can be scripted to fail or stall.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use humanloop_tracing::{ConfigBuilder, Humanloop};
use serde_json::{json, Value};
use tokio::sync::watch;

/// How the endpoint answers a request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// 200 with the expected body.
    Ok,
    /// This status with `{"detail": "scripted"}`.
    Fail(u16),
    /// Never answer until [`Recorder::release`].
    Stall,
    /// 429 with `Retry-After: <seconds>`.
    RetryAfter(u64),
    /// 200 with a body that is not JSON.
    NotJson,
}

/// One request as the endpoint saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Order of arrival (shared counter with `answered`).
    pub arrival: u64,
    /// Order of the answer, when it was answered successfully.
    pub answered: Option<u64>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Value,
    /// The body as it came, for what a parse would not keep (spacing, escapes).
    pub text: String,
    /// When it arrived, on the tokio clock (paused in some tests).
    pub at: tokio::time::Instant,
}

struct Inner {
    counter: u64,
    requests: Vec<Recorded>,
    script: VecDeque<Behaviour>,
    default: Behaviour,
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    released: watch::Receiver<bool>,
}

/// The running endpoint.
pub struct Recorder {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    release: watch::Sender<bool>,
}

impl Recorder {
    /// Start on a loopback port (inside the current tokio runtime).
    pub async fn start() -> Recorder {
        Self::start_on(0).await
    }

    /// Start on this loopback port (0: any free one).
    pub async fn start_on(port: u16) -> Recorder {
        let inner = Arc::new(Mutex::new(Inner {
            counter: 0,
            requests: Vec::new(),
            script: VecDeque::new(),
            default: Behaviour::Ok,
            in_flight: 0,
            max_in_flight: 0,
        }));
        let (release, released) = watch::channel(false);
        let app = axum::Router::new().fallback(answer).with_state(AppState {
            inner: inner.clone(),
            released,
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Recorder {
            base_url: format!("http://{addr}/v4"),
            inner,
            release,
        }
    }

    /// A config builder pointed at this endpoint, with a short batching delay.
    pub fn config(&self) -> humanloop_tracing::ConfigBuilder {
        humanloop_tracing::Config::builder()
            .base_url(&self.base_url)
            .api_key("hl-test-key")
            .schedule_delay(Duration::from_millis(20))
    }

    /// Answer the next requests like this, in order, then fall back to the default.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.inner.lock().unwrap().script.extend(behaviours);
    }

    /// How requests are answered once the script is used up.
    pub fn set_default(&self, b: Behaviour) {
        self.inner.lock().unwrap().default = b;
    }

    /// Let stalled requests go (they then answer 200), and stop stalling.
    pub fn release(&self) {
        self.set_default(Behaviour::Ok);
        let _ = self.release.send(true);
    }

    /// The most requests that were ever being handled at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.lock().unwrap().max_in_flight
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The POST requests, in order of arrival.
    pub fn posts(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// Every log POSTed, in order of arrival (a batch is its logs).
    pub fn bodies(&self) -> Vec<Value> {
        self.logs().into_iter().map(|(_, l)| l).collect()
    }

    /// Every log created, with the request that carried it.
    pub fn logs(&self) -> Vec<(Recorded, Value)> {
        let mut out = Vec::new();
        for r in self.requests() {
            if r.method != "POST" || !r.path.ends_with("/logs") {
                continue;
            }
            match &r.body {
                Value::Array(items) => {
                    for l in items {
                        out.push((r.clone(), l.clone()));
                    }
                }
                other => out.push((r.clone(), other.clone())),
            }
        }
        out
    }

    /// The logs whose `config.type` is `tool` (steps).
    pub fn steps(&self) -> Vec<Value> {
        self.logs()
            .into_iter()
            .map(|(_, l)| l)
            .filter(|l| l["config"]["type"] == "tool")
            .collect()
    }

    /// The step log named `name` (panics unless there is exactly one).
    pub fn step(&self, name: &str) -> Value {
        let found: Vec<Value> = self
            .steps()
            .into_iter()
            .filter(|l| l["config"]["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "step {name}: {found:#?}");
        found.into_iter().next().unwrap()
    }

    /// PATCH requests by reference id: `(request, reference_id)`.
    pub fn patches(&self) -> Vec<(Recorded, String)> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .filter_map(|r| {
                let q = r.query.clone()?;
                let reference = q
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("reference_id="))?
                    .to_owned();
                Some((r, reference))
            })
            .collect()
    }

    /// The PATCH body sent for `reference_id` (panics unless exactly one).
    pub fn patch_for(&self, reference_id: &str) -> Value {
        let found: Vec<_> = self
            .patches()
            .into_iter()
            .filter(|(_, r)| r == reference_id)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "patch for {reference_id}: {:#?}",
            self.requests()
        );
        found[0].0.body.clone()
    }

    /// The causal rule: every log naming a parent, and every PATCH, arrived after the POST
    /// that created the datapoint it names had been answered, and never in the same request.
    /// Parents listed in `remote` are not expected here.
    pub fn assert_causal_order(&self, remote: &[&str]) {
        let logs = self.logs();
        let created = |reference: &str| {
            logs.iter()
                .find(|(r, l)| l["reference_id"] == reference && r.answered.is_some())
                .map(|(r, _)| r.clone())
        };
        for (req, log) in &logs {
            let Some(parent) = log["parent_reference_id"].as_str() else {
                continue;
            };
            if remote.contains(&parent) {
                continue;
            }
            let p = created(parent).unwrap_or_else(|| panic!("parent {parent} never created"));
            assert_ne!(p.arrival, req.arrival, "child {log} sent with its parent");
            let answered = p.answered.expect("parent's POST answered");
            assert!(
                answered < req.arrival,
                "child {log} sent (#{}) before its parent's POST was answered (#{answered})",
                req.arrival
            );
        }
        for (req, reference) in self.patches() {
            let p = created(&reference)
                .unwrap_or_else(|| panic!("PATCH for {reference} never created"));
            let answered = p.answered.expect("POST answered");
            assert!(
                answered < req.arrival,
                "PATCH {reference} before its POST was answered"
            );
        }
    }
}

async fn answer(State(st): State<AppState>, method: Method, uri: Uri, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (index, behaviour) = {
        let mut inner = st.inner.lock().unwrap();
        let arrival = inner.counter;
        inner.counter += 1;
        inner.requests.push(Recorded {
            arrival,
            answered: None,
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            body: body.clone(),
            text,
            at: tokio::time::Instant::now(),
        });
        inner.in_flight += 1;
        inner.max_in_flight = inner.max_in_flight.max(inner.in_flight);
        let b = inner.script.pop_front().unwrap_or(inner.default);
        (inner.requests.len() - 1, b)
    };
    // Counts the request out however the handler ends (answered, or dropped with its
    // connection).
    struct Out(Arc<Mutex<Inner>>);
    impl Drop for Out {
        fn drop(&mut self) {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).in_flight -= 1;
        }
    }
    let _out = Out(st.inner.clone());
    match behaviour {
        Behaviour::Fail(status) => {
            return (
                StatusCode::from_u16(status).unwrap(),
                axum::Json(json!({"detail": "scripted"})),
            )
                .into_response()
        }
        Behaviour::RetryAfter(secs) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(axum::http::header::RETRY_AFTER, secs.to_string())],
                axum::Json(json!({"detail": "slow down"})),
            )
                .into_response()
        }
        Behaviour::NotJson => {
            return (StatusCode::OK, "<html>maintenance</html>").into_response();
        }
        Behaviour::Stall => {
            let mut rx = st.released.clone();
            let _ = rx.wait_for(|r| *r).await;
        }
        Behaviour::Ok => {}
    }
    let answer = |l: &Value| {
        json!({"id": format!("data_{}", uuid_like()), "project_id": "pr_test",
               "session_id": l.get("session_reference_id").cloned().unwrap_or(Value::Null)})
    };
    let out = if method == Method::POST {
        match &body {
            Value::Array(items) => Value::Array(items.iter().map(answer).collect()),
            other => answer(other),
        }
    } else {
        json!({"id": "data_patched"})
    };
    {
        let mut inner = st.inner.lock().unwrap();
        let n = inner.counter;
        inner.counter += 1;
        inner.requests[index].answered = Some(n);
    }
    axum::Json(out).into_response()
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A `Humanloop` logging to `rec`, in project `capture-tests`, configured further by `f`.
pub fn humanloop(rec: &Recorder, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Humanloop {
    let builder = rec
        .config()
        .project("capture-tests")
        .schedule_delay(Duration::from_millis(10));
    super::track(Humanloop::new(f(builder).build().unwrap()).unwrap())
}

/// Flush `hl`, then wait (bounded) until `rec` has at least `expected` logs; all its logs.
pub async fn flushed_logs(hl: &Humanloop, rec: &Recorder, expected: usize) -> Vec<Value> {
    let _ = hl.flush(Duration::from_secs(10)).await;
    for _ in 0..200 {
        if rec.bodies().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rec.bodies()
}

/// The answer of [`CHAT_FIXTURE`](super::provider::CHAT_FIXTURE).
pub const CHAT_ANSWER: &str = "\n\nHello there, how may I assist you today?";

/// Assert that `log` holds the tests' chat call: the messages `Be brief.` (system) and
/// `Hello!` (user), the output [`CHAT_ANSWER`].
pub fn assert_hello_chat(log: &Value) {
    assert_eq!(
        log["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]),
        "{log:#}"
    );
    assert_eq!(log["output"], CHAT_ANSWER, "{log:#}");
}

/// The `Humanloop` that `config` builds (a test's configuration is valid).
pub fn handle(config: ConfigBuilder) -> Humanloop {
    Humanloop::new(config.build().unwrap()).unwrap()
}

/// `hl`'s tracing layer as this thread's subscriber, until the guard drops.
pub fn traced(hl: &Humanloop) -> tracing::subscriber::DefaultGuard {
    use tracing_subscriber::layer::SubscriberExt;
    tracing::subscriber::set_default(tracing_subscriber::registry().with(hl.tracing_layer()))
}

/// Shut `hl` down within `within`, assert its counters `(sent, dropped, failed, queued)`
/// read `expected` (the message shows every counter), and answer them.
pub async fn shut_down_settled(
    hl: &Humanloop,
    within: std::time::Duration,
    expected: (u64, u64, u64, u64),
) -> humanloop_tracing::export::ExportStats {
    hl.shutdown(within).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed, stats.queued),
        expected,
        "{stats:?}"
    );
    stats
}

/// Assert that the named counters of `hl`'s exporter (`sent`, `queued`, `retried`,
/// `dropped`, `failed`, `spooled`) read `expected`, in that order; the message shows every
/// counter. Answers them.
pub fn assert_stats(
    hl: &Humanloop,
    expected: &[(&str, u64)],
) -> humanloop_tracing::export::ExportStats {
    let stats = hl.stats();
    let read: Vec<(&str, u64)> = expected
        .iter()
        .map(|&(name, _)| {
            let value = match name {
                "sent" => stats.sent,
                "queued" => stats.queued,
                "retried" => stats.retried,
                "dropped" => stats.dropped,
                "failed" => stats.failed,
                "spooled" => stats.spooled,
                other => panic!("no counter {other}"),
            };
            (name, value)
        })
        .collect();
    assert_eq!(read, expected, "{stats:?}");
    stats
}

/// Assert that `err` counts `(undelivered, failed, dropped)`; the message is the error.
pub fn assert_undelivered(err: &humanloop_tracing::export::ExportError, expected: (u64, u64, u64)) {
    assert_eq!(
        (err.undelivered(), err.failed(), err.dropped()),
        expected,
        "{err}"
    );
}

/// A recorder and a `Humanloop` exporting to it with `schedule_delay` and `max_batch_size`.
pub async fn batching(
    schedule_delay: std::time::Duration,
    max_batch_size: usize,
) -> (Recorder, Humanloop) {
    let rec = Recorder::start().await;
    let hl = handle(
        rec.config()
            .schedule_delay(schedule_delay)
            .max_batch_size(max_batch_size),
    );
    (rec, hl)
}
