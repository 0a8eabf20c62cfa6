//! A 2xx means committed: the `serve` binary is killed with SIGKILL right after answering,
//! and the datapoint is in the database file afterwards.
#![cfg(feature = "server")]

use std::process::{Child, Command, Stdio};

use crate::harness::server::{get, listening_url};
use serde_json::{json, Value};

/// Start `humanloop-tracing serve` on a free port; answers the child and its base URL.
fn serve(db: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env_remove("HUMANLOOP_SERVER_API_KEYS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let url = listening_url(&mut child);
    (child, url)
}

/// POST one log (with `key` as `X-API-KEY` when given); asserts a 200, answers its body.
async fn post_log(http: &reqwest::Client, base: &str, key: Option<&str>, log: &Value) -> Value {
    let mut req = http.post(format!("{base}/logs")).json(log);
    if let Some(key) = key {
        req = req.header("X-API-KEY", key);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_logged_datapoint_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hl.db");
    let (mut child, base) = serve(&db, &["--api-key", "local-key"]);
    let http = reqwest::Client::new();

    let datapoint = json!({"project": "durable", "session_reference_id": "t-1", "reference_id": "r-1",
                           "config": {"type": "tool", "name": "step"}, "output": "kept"});
    let created = post_log(&http, &base, Some("local-key"), &datapoint).await;
    child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix: no shutdown code runs
    child.wait().unwrap();

    // Straight from the file, with plain SQLite.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (id, body): (String, String) = conn
        .query_row(
            "SELECT id, body FROM datapoints WHERE reference_id = 'r-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(id, created["id"].as_str().unwrap());
    assert!(body.contains("kept"));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);

    // And through a new server on the same file: the retry is recognised, not duplicated.
    let (mut child, base) = serve(&db, &[]);
    let again = post_log(&http, &base, None, &datapoint).await;
    assert_eq!(again["id"], created["id"]);
    let path = format!("/logs/{}", created["id"].as_str().unwrap());
    let (status, log) = get(&http, &base, &path).await;
    assert_eq!(status, 200, "{log}");
    assert_eq!(log["output"], "kept");
    child.kill().unwrap();
    child.wait().unwrap();
}
