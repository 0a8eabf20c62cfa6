//! The local endpoint under concurrent load, on loopback with a SQLite file: 32 clients
//! × 50 requests mixing valid single logs, nested logs, batches, retried duplicates (sent
//! twice at once), PATCHes by reference, and bad bodies (not JSON, wrong types, an unknown
//! parent, a batch with one bad item, oversize). Valid requests must all get a 2xx, bad ones
//! their 4xx (413 when oversize, 422 otherwise), never a 5xx; afterwards the database (read with plain SQLite) holds every
//! datapoint answered 2xx exactly once, under the id it was answered with, with its PATCHed
//! output, and nothing from a rejected request.
//!
//! Bounded loops only, no wall-clock assertion; the figures (requests, duration, req/s) are
//! printed. The 10× variant is ignored by default:
//!
//! ```text
//! cargo test --all-features --test server_load -- --ignored --nocapture
//! ```

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use humanloop_tracing::server::{self, ServerConfig};
use serde_json::{json, Value};

const BODY_LIMIT: usize = 32 * 1024;

/// What one client saw; merged at the end.
#[derive(Default)]
struct Tally {
    requests: usize,
    /// (session reference, reference) → id answered.
    stored: HashMap<(String, String), String>,
    /// (session reference, reference) → the output a PATCH set.
    patched: HashMap<(String, String), String>,
    /// References sent only in rejected requests.
    rejected: HashSet<(String, String)>,
    /// Status classes: 2xx, 4xx, 5xx, transport errors.
    ok: usize,
    client_errors: usize,
    server_errors: usize,
    transport_errors: usize,
    /// Valid requests that were not answered 2xx, bad ones not answered 4xx.
    wrong: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.stored.extend(other.stored);
        self.patched.extend(other.patched);
        self.rejected.extend(other.rejected);
        self.ok += other.ok;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.transport_errors += other.transport_errors;
        self.wrong.extend(other.wrong);
    }
}

struct Figures {
    requests: usize,
    duration: Duration,
    tally: Tally,
}

fn log(session: &str, reference: &str, parent: Option<&str>) -> Value {
    let mut v = json!({
        "project": "load",
        "session_reference_id": session,
        "reference_id": reference,
        "config": {"type": "model", "model": "gpt-4o-mini", "provider": "openai"},
        "messages": [{"role": "user", "content": format!("question {reference}")}],
        "output": format!("answer {reference}"),
        "prompt_tokens": 12,
        "output_tokens": 7,
    });
    if let Some(p) = parent {
        v["parent_reference_id"] = json!(p);
    }
    v
}

/// One client's bounded run of `n` requests.
async fn client(base: String, c: usize, n: usize) -> Tally {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let session = format!("load-s-{c}");
    let mut t = Tally::default();
    // Single logs of this client so far: (reference, body, id).
    let mut singles: Vec<(String, Value, String)> = Vec::new();

    // Send and classify the answer; `expect` is the status of a bad request, `None` for a
    // valid one (any 2xx).
    async fn send(
        t: &mut Tally,
        req: reqwest::RequestBuilder,
        what: &str,
        expect: Option<u16>,
    ) -> Option<Value> {
        t.requests += 1;
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                t.transport_errors += 1;
                t.wrong.push(format!("{what}: transport error {e}"));
                return None;
            }
        };
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        match status {
            200..=299 => t.ok += 1,
            400..=499 => t.client_errors += 1,
            _ => t.server_errors += 1,
        }
        let expected = match expect {
            None => (200..300).contains(&status),
            Some(code) => status == code,
        };
        if !expected {
            t.wrong.push(format!(
                "{what}: {status} {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
            return None;
        }
        serde_json::from_slice(&body).ok()
    }

    for j in 0..n {
        let post = || http.post(format!("{base}/logs"));
        match j % 10 {
            // A single log; every other one nested under an earlier log of this client.
            0..=2 => {
                let reference = format!("r-{c}-{j}");
                let parent = (j % 2 == 1)
                    .then(|| singles.last().map(|s| s.0.clone()))
                    .flatten();
                let body = log(&session, &reference, parent.as_deref());
                if let Some(answer) = send(&mut t, post().json(&body), &reference, None).await {
                    let id = answer["id"].as_str().unwrap_or_default().to_owned();
                    t.stored
                        .insert((session.clone(), reference.clone()), id.clone());
                    singles.push((reference, body, id));
                }
            }
            // A batch of four.
            3 => {
                let refs: Vec<String> = (0..4).map(|k| format!("b-{c}-{j}-{k}")).collect();
                let body: Vec<Value> = refs.iter().map(|r| log(&session, r, None)).collect();
                let what = format!("batch {j}");
                if let Some(answer) = send(&mut t, post().json(&body), &what, None).await {
                    let ids = answer.as_array().cloned().unwrap_or_default();
                    if ids.len() != refs.len() {
                        t.wrong.push(format!("{what}: {} answers", ids.len()));
                    }
                    for (r, a) in refs.into_iter().zip(ids) {
                        let id = a["id"].as_str().unwrap_or_default().to_owned();
                        t.stored.insert((session.clone(), r), id);
                    }
                }
            }
            // A client retry: an earlier single log sent again, twice at once.
            4 => {
                let Some((reference, body, id)) =
                    singles.get(j / 3 % singles.len().max(1)).cloned()
                else {
                    continue;
                };
                let what = format!("retry of {reference}");
                let mut a = Tally::default();
                let mut b = Tally::default();
                let (x, y) = tokio::join!(
                    send(&mut a, post().json(&body), &what, None),
                    send(&mut b, post().json(&body), &what, None),
                );
                for answer in [x, y].into_iter().flatten() {
                    if answer["id"] != json!(id) {
                        t.wrong
                            .push(format!("{what}: answered {} instead of {id}", answer["id"]));
                    }
                }
                t.merge(a);
                t.merge(b);
            }
            // Complete an earlier log by reference.
            5 => {
                let Some((reference, _, _)) = singles.last().cloned() else {
                    continue;
                };
                let output = format!("patched {c}-{j}");
                let url = url::Url::parse_with_params(
                    &format!("{base}/logs"),
                    [
                        ("reference_id", reference.as_str()),
                        ("session_reference_id", session.as_str()),
                    ],
                )
                .unwrap();
                let req = http
                    .patch(url)
                    .json(&json!({"output": output, "duration": 0.25}));
                let what = format!("patch of {reference}");
                if send(&mut t, req, &what, None).await.is_some() {
                    t.patched.insert((session.clone(), reference), output);
                }
            }
            // Not JSON at all.
            6 => {
                let req = post()
                    .header("content-type", "application/json")
                    .body(format!("{{\"reference_id\": \"n-{c}-{j}\", oops"));
                send(&mut t, req, "a non-JSON body", Some(422)).await;
                t.rejected.insert((session.clone(), format!("n-{c}-{j}")));
            }
            // Wrong types: alone, or as one bad item of a batch (all or nothing).
            7 => {
                let reference = format!("w-{c}-{j}");
                let mut bad = log(&session, &reference, None);
                bad["prompt_tokens"] = json!("twelve");
                bad["messages"] = json!("not a list");
                let req = if j % 20 == 7 {
                    post().json(&bad)
                } else {
                    let ok = format!("wb-{c}-{j}");
                    t.rejected.insert((session.clone(), ok.clone()));
                    post().json(&json!([log(&session, &ok, None), bad]))
                };
                send(&mut t, req, "wrong types", Some(422)).await;
                t.rejected.insert((session.clone(), reference));
            }
            // A parent nobody logged.
            8 => {
                let reference = format!("u-{c}-{j}");
                let body = log(&session, &reference, Some(&format!("missing-{c}-{j}")));
                send(&mut t, post().json(&body), "an unknown parent", Some(422)).await;
                t.rejected.insert((session.clone(), reference));
            }
            // Larger than the body limit.
            _ => {
                let reference = format!("o-{c}-{j}");
                let mut body = log(&session, &reference, None);
                body["output"] = json!("x".repeat(BODY_LIMIT + 1024));
                send(&mut t, post().json(&body), "an oversize body", Some(413)).await;
                t.rejected.insert((session.clone(), reference));
            }
        }
    }
    t
}

async fn run(clients: usize, per_client: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("load.db");
    let endpoint = server::spawn(
        ServerConfig::with_db(&db).body_limit(BODY_LIMIT),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = endpoint.base_url();

    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(client(base.clone(), c, per_client)))
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.expect("a client task panicked"));
    }
    let duration = started.elapsed();

    // The API's view: every stored datapoint is listed under the project.
    let listed: Value = reqwest::get(format!("{base}/logs?project=load&size=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    endpoint.shutdown().await.unwrap();

    let wrong = &tally.wrong;
    assert!(
        wrong.is_empty(),
        "{} unexpected answer(s), e.g. {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!(tally.server_errors, 0);
    assert_eq!(
        listed["total"],
        json!(tally.stored.len()),
        "GET /logs total"
    );

    // Plain SQLite: each (session, reference) once, under the id answered.
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    // One read transaction: every query below sees the same snapshot.
    let conn = conn.transaction().unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT s.reference_id, d.reference_id, d.id, d.body FROM datapoints d
             JOIN sessions s ON s.id = d.session_id",
        )
        .unwrap();
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let total: i64 = conn
        .query_row("SELECT COUNT(*) FROM datapoints", [], |r| r.get(0))
        .unwrap();
    if total as usize != rows.len() {
        let mut stmt = conn
            .prepare(
                "SELECT d.id, d.session_id, d.reference_id, d.created_at FROM datapoints d
                 LEFT JOIN sessions s ON s.id = d.session_id WHERE s.id IS NULL",
            )
            .unwrap();
        let orphans: Vec<(String, Option<String>, Option<String>, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        panic!(
            "{} of {total} datapoints are in no session: {orphans:#?}",
            orphans.len()
        );
    }
    let mut seen: HashMap<(String, String), (usize, String, Value)> = HashMap::new();
    for (s, r, id, body) in rows {
        let e = seen
            .entry((s, r))
            .or_insert((0, id, serde_json::from_str(&body).unwrap()));
        e.0 += 1;
    }
    for (key, id) in &tally.stored {
        match seen.get(key) {
            Some((1, stored_id, _)) => assert_eq!(stored_id, id, "{key:?}"),
            Some((n, _, _)) => panic!("{key:?} stored {n} times"),
            None => panic!("{key:?} was answered 2xx ({id}) but is not in the database"),
        }
    }
    assert_eq!(seen.len(), tally.stored.len(), "nothing else was stored");
    for key in &tally.rejected {
        assert!(!seen.contains_key(key), "{key:?} was rejected but stored");
    }
    for (key, output) in &tally.patched {
        assert_eq!(seen[key].2["output"], json!(output), "{key:?}");
    }
    let requests = tally.requests;
    Figures {
        requests,
        duration,
        tally,
    }
}

fn report(name: &str, f: &Figures) {
    let t = &f.tally;
    println!(
        "{name}: {} requests in {:.2?} ({:.0} req/s): {} 2xx, {} 4xx, {} 5xx, {} transport errors; \
         {} datapoints stored once each, {} patched, {} rejected references absent",
        f.requests,
        f.duration,
        f.requests as f64 / f.duration.as_secs_f64(),
        t.ok,
        t.client_errors,
        t.server_errors,
        t.transport_errors,
        t.stored.len(),
        t.patched.len(),
        t.rejected.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mixed_load_keeps_every_answered_datapoint_once() {
    let f = run(32, 50).await;
    // 32 × 50 steps; the retry steps send two requests, the first retry step of a client
    // has a log to repeat.
    assert!(f.requests >= 32 * 50, "{}", f.requests);
    assert!(f.tally.client_errors >= 32 * 20, "the bad bodies were sent");
    report("server_load (32 × 50)", &f);
}

/// Ten times the volume: `cargo test --all-features --test server_load -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 10× the volume of the default load test"]
async fn concurrent_mixed_load_ten_times() {
    let f = run(32, 500).await;
    assert!(f.requests >= 32 * 500);
    report("server_load (32 × 500)", &f);
}
