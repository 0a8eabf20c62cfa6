//! A client that disconnects mid-stream cancels the upstream request (the upstream sees its
//! response dropped), and the call is logged as cancelled with the output it had so far.

mod proxy_support;

use std::time::Duration;

use proxy_support::{chunk, stream_request, streaming_upstream, PROVIDER_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_client_disconnect_cancels() {
    let (upstream, mut senders) = streaming_upstream().await;
    let stack =
        proxy_support::start(|c| c.upstream(&format!("openai={upstream}/v1")).unwrap()).await;
    let http = reqwest::Client::new();
    let mut resp = http
        .post(format!("{}/openai/v1/chat/completions", stack.proxy_url))
        .bearer_auth(PROVIDER_KEY)
        .json(&stream_request())
        .send()
        .await
        .unwrap();
    let tx = senders.recv().await.unwrap();
    tx.send(chunk("Hello")).await.unwrap();
    tx.send(chunk(" wor")).await.unwrap();
    let mut got = Vec::new();
    while got.len() < chunk("Hello").len() + chunk(" wor").len() {
        got.extend_from_slice(&resp.chunk().await.unwrap().unwrap());
    }
    assert_eq!(stack.proxy.in_flight(), 1);
    // The client goes away mid-stream.
    drop(resp);
    drop(http);

    tokio::time::timeout(Duration::from_secs(5), tx.closed())
        .await
        .expect("the upstream request was cancelled");
    // The upstream slot is free again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stack.proxy.in_flight() != 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stack.proxy.in_flight(), 0);

    let logs = stack.logs(1).await;
    assert_eq!(logs.len(), 1, "{logs:#?}");
    let log = &logs[0];
    assert_eq!(log["output"], "Hello wor", "{log:#}");
    assert!(
        log["error"]
            .as_str()
            .is_some_and(|e| e.contains("cancelled")),
        "{log:#}"
    );
    let spans = stack.llm_spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        proxy_support::attr(&spans[0], "error.type").as_deref(),
        Some("cancelled")
    );
}
