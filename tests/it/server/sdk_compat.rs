//! `humanloop-tracing serve` is a drop-in for the Humanloop v4 API: the real Python SDK
//! (`humanloop==0.7.35` from PyPI, in a virtual environment this test creates and caches
//! under `target/tmp`) runs every operation outside datasets, evaluations and evaluators
//! against `serve` started as a separate process, each answer checked by the SDK's own
//! models (`validate=True`); see `tests/sdk_compat/run_sdk.py`.
//!
//! Completions whose config names `openai` or `anthropic` go to a fake provider on
//! loopback started here, which checks that tools arrive in each provider's shape and that
//! the SDK's `provider_api_keys` reach the provider (and nothing else).
//!
//! Skipped, loudly, only when `python3` is absent. Set `HUMANLOOP_SDK_COMPAT=skip` to skip
//! on purpose (e.g. offline, where PyPI cannot be reached).
#![cfg(feature = "server")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::harness::server::listening_url;

const SDK: &str = "humanloop==0.7.35";

/// What the fake provider received: (route, auth header, body).
type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

fn fixture(path: &str) -> String {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

async fn openai(
    State(seen): State<Seen>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let auth = h
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    seen.lock().unwrap().push(("openai".into(), auth, body));
    (
        [("content-type", "application/json")],
        fixture("openai/chat_tool_calls.json"),
    )
}

async fn anthropic(
    State(seen): State<Seen>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let auth = h.get("x-api-key").map(|v| v.to_str().unwrap().to_owned());
    seen.lock().unwrap().push(("anthropic".into(), auth, body));
    (
        [("content-type", "application/json")],
        fixture("anthropic/message_tool_use.json"),
    )
}

/// A virtual environment with the SDK, created once and reused by later runs.
fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-humanloop-0.7.35");
    let python = dir.join("bin").join("python");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import humanloop"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && ready(&python) {
        return python;
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .status()
        .expect("python3 -m venv runs");
    assert!(status.success(), "python3 -m venv failed");
    let status = Command::new(dir.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", SDK])
        .status()
        .expect("pip runs");
    assert!(
        status.success(),
        "pip install {SDK} failed (is PyPI reachable?)"
    );
    assert!(
        ready(&python),
        "the SDK is not importable after installing it"
    );
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_v4_python_sdk_runs_every_operation_against_serve() {
    if std::env::var("HUMANLOOP_SDK_COMPAT").as_deref() == Ok("skip") {
        eprintln!("SKIPPED: HUMANLOOP_SDK_COMPAT=skip");
        return;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("\n*** SKIPPED server_sdk_compat: python3 is not installed; the v4 SDK suite did not run ***\n");
        return;
    }
    let started = Instant::now();
    let python = tokio::task::spawn_blocking(venv).await.unwrap();
    let venv_secs = started.elapsed().as_secs_f64();

    let seen: Seen = Arc::default();
    let fake = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake_url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake).await });

    let mut serve = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args(["serve", "--addr", "127.0.0.1:0", "--in-memory"])
        .args([
            "--openai-base-url",
            &fake_url,
            "--anthropic-base-url",
            &fake_url,
        ])
        .env_remove("HUMANLOOP_SERVER_API_KEYS")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let base = listening_url(&mut serve);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk_compat/run_sdk.py");
    let run_started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(&base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "venv ready in {venv_secs:.1}s, SDK run {:.1}s",
        run_started.elapsed().as_secs_f64()
    );
    assert!(out.status.success(), "the SDK suite failed:\n{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");

    let seen = seen.lock().unwrap();
    let openai = seen
        .iter()
        .find(|(p, _, _)| p == "openai")
        .expect("the openai tools config reached the provider");
    assert_eq!(openai.1.as_deref(), Some("Bearer sk-openai-from-sdk"));
    assert_eq!(
        openai.2["tools"],
        json!([{"type": "function", "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}]),
        "{}",
        openai.2
    );
    assert_eq!(openai.2["tool_choice"], "auto");
    let anthropic = seen
        .iter()
        .find(|(p, _, _)| p == "anthropic")
        .expect("the anthropic tools config reached the provider");
    assert_eq!(anthropic.1.as_deref(), Some("sk-anthropic-from-sdk"));
    assert_eq!(
        anthropic.2["tools"],
        json!([{
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }]),
        "{}",
        anthropic.2
    );
    assert_eq!(anthropic.2["tool_choice"], json!({"type": "auto"}));
}
