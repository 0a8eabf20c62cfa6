//! The `humanloop-tracing serve` command line: keys from flags and from
//! `HUMANLOOP_SERVER_API_KEYS`, and clear failures.
#![cfg(feature = "server")]

use std::process::{Command, Stdio};

use crate::harness::server::listening_url;

#[tokio::test]
async fn keys_come_from_flags_and_the_environment() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--in-memory",
            "--api-key",
            "flag-key",
        ])
        .env("HUMANLOOP_SERVER_API_KEYS", "env-a, env-b")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = listening_url(&mut child);
    let http = reqwest::Client::new();
    let status = |key: Option<&'static str>| {
        let (http, url) = (http.clone(), format!("{base}/sessions"));
        async move {
            let mut req = http.post(url);
            if let Some(k) = key {
                req = req.header("X-API-KEY", k);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(status(None).await, 401);
    assert_eq!(status(Some("env-")).await, 401);
    for key in ["flag-key", "env-a", "env-b"] {
        assert_eq!(status(Some(key)).await, 201, "{key}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_unusable_database_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--db",
            "/nonexistent-dir/x/hl.db",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
}
