//! Streaming is unbuffered: each chunk the upstream sends reaches the client before the
//! upstream sends the next one (the test holds the upstream back until the client has
//! the chunk), bytes unchanged; the whole answer is logged once the stream ends.

mod proxy_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use proxy_support::{chunk, stream_request, streaming_upstream, PROVIDER_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_streams_unbuffered() {
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
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let tx = senders.recv().await.unwrap();

    let words = ["Hello", " from", " the", " stream", "."];
    let mut worst = Duration::ZERO;
    for word in words {
        let frame = chunk(word);
        let sent = Instant::now();
        tx.send(frame.clone()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("the chunk reached the client while the upstream held the rest back")
            .unwrap()
            .unwrap();
        worst = worst.max(sent.elapsed());
        assert_eq!(
            got, frame,
            "one upstream frame, one client chunk, unchanged"
        );
    }
    tx.send(Bytes::from_static(b"data: [DONE]\n\n"))
        .await
        .unwrap();
    drop(tx);
    let rest = resp.bytes().await.unwrap();
    assert_eq!(&rest[..], b"data: [DONE]\n\n");
    eprintln!("slowest upstream-send → client-receive: {worst:?}");

    let logs = stack.logs(1).await;
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert_eq!(logs[0]["output"], "Hello from the stream.");
    assert!(logs[0]["error"].is_null(), "{:#}", logs[0]);
}
