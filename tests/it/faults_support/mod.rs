//! Shared by the `faults_*` tests: an OpenAI-compatible provider on loopback answering the
//! documented fixture (tests/fixtures/openai/chat_basic.json), a client going through
//! `hl.middleware()`, a short retry policy and the exactly-once check.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::Humanloop;

use crate::export_support::Recorder;

pub fn fixture() -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/openai/chat_basic.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn chat() -> Response {
    ([(CONTENT_TYPE, "application/json")], Body::from(fixture())).into_response()
}

/// Start the provider; its chat completions URL.
pub async fn provider() -> String {
    let app = axum::Router::new().route("/v1/chat/completions", post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1/chat/completions")
}

pub fn client(hl: &Humanloop) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build()
}

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
    assert_eq!(resp.bytes().await.unwrap().to_vec(), fixture());
}

/// Many quick retries (the test decides when the endpoint recovers).
pub fn short_retries() -> RetryPolicy {
    let mut p = RetryPolicy::default();
    p.max_attempts = 1000;
    p.initial_backoff = Duration::from_millis(5);
    p.max_backoff = Duration::from_millis(20);
    p.max_elapsed = Duration::from_secs(30);
    p
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
