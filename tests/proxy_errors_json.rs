//! Faults get a clear JSON answer, never a hang or a panic: a path no upstream serves →
//! `404` listing the prefixes; an upstream that refuses connections → `502` whose
//! `detail` names the upstream; a body over the limit → `413` (declared by
//! `Content-Length` or streamed without one, with `Connection: close`) and nothing sent
//! upstream. The 502 call is logged as a failed call; the proxy keeps serving.

mod proxy_support;

use std::time::Duration;

use proxy_support::{closed_port, upstream_fn, PROVIDER_KEY};
use serde_json::{json, Value};

/// POST `pieces` pieces of 200 bytes `byte` to `url`, a body of no declared length.
async fn post_streamed(
    http: &reqwest::Client,
    url: String,
    pieces: usize,
    byte: u8,
) -> reqwest::Response {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..pieces).map(|_| Ok(vec![byte; 200])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    http.post(url).body(body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_errors_json() {
    let (upstream, mut seen) =
        upstream_fn(|_| async { axum::response::Response::new("ok".into()) }).await;
    let dead = closed_port();
    let stack = proxy_support::start(|c| {
        c.upstream(&format!("openai={upstream}/v1"))
            .unwrap()
            .upstream(&format!("anthropic=http://127.0.0.1:{dead}"))
            .unwrap()
            .body_limit(1024)
    })
    .await;
    let http = reqwest::Client::new();
    let chat = json!({"model": "claude-sonnet-4", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});

    // Unknown path.
    let resp = http
        .get(format!("{}/nope/v1/models", stack.proxy_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["prefixes"], json!(["/openai", "/anthropic"]));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/openai, /anthropic"),
        "{body}"
    );

    // A prefix must match a whole segment.
    let resp = http
        .get(format!("{}/openaix/v1", stack.proxy_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Unreachable upstream.
    let started = std::time::Instant::now();
    let resp = http
        .post(format!("{}/anthropic/v1/messages", stack.proxy_url))
        .header("x-api-key", PROVIDER_KEY)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: Value = resp.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("upstream `anthropic`"), "{detail}");
    assert!(
        detail.contains(&format!("http://127.0.0.1:{dead}")),
        "{detail}"
    );
    assert!(detail.contains("could not be reached"), "{detail}");
    assert!(!detail.contains(PROVIDER_KEY));
    assert_eq!(body["upstream"], "anthropic");

    // Over the body limit, declared.
    let big = vec![b'x'; 2048];
    let resp = http
        .post(format!("{}/openai/v1/chat/completions", stack.proxy_url))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Refused unread: the connection is not to be reused (a pooled one raced its close).
    assert_eq!(resp.headers()["connection"], "close");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("1024 bytes"),
        "{body}"
    );

    // Over the body limit, streamed without a length.
    let url = format!("{}/openai/v1/chat/completions", stack.proxy_url);
    let resp = post_streamed(&http, url, 8, b'y').await;
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["connection"], "close");

    // Under the limit, streamed without a length: forwarded whole.
    let url = format!("{}/openai/v1/files", stack.proxy_url);
    let resp = post_streamed(&http, url, 4, b'z').await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let got = seen.recv().await.unwrap();
    assert_eq!(got.body.len(), 800);
    assert!(
        seen.try_recv().is_err(),
        "a refused body reached the upstream"
    );

    // The failed call is logged, with the upstream's failure and no key.
    let logs = stack.logs(1).await;
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert_eq!(logs[0]["config"]["model"], "claude-sonnet-4");
    assert!(logs[0]["error"].as_str().is_some(), "{:#}", logs[0]);
    assert!(!serde_json::to_string(&logs).unwrap().contains(PROVIDER_KEY));
}
