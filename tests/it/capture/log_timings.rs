//! A log carries what its own fields cannot say, in its metadata under the span
//! attributes' names: a streamed call's time to first chunk (seconds), and the cache and
//! reasoning tokens the provider reported. (The web UI shows them.)

use std::time::Duration;

use crate::harness::{adapters::*, endpoint::*, fixtures::*, provider::*};

const TTFT: &str = "gen_ai.response.time_to_first_chunk";

#[tokio::test(flavor = "current_thread")]
async fn a_streamed_call_logs_its_time_to_first_chunk() {
    let chunks = sse_chunks("openai/chat_stream_include_usage.sse");
    for adapter in ADAPTERS {
        let sink = Recorder::start().await;
        let hl = humanloop(&sink, |b| b);
        let server = stream_server("text/event-stream").await;
        let url = format!("http://{}/v1/chat/completions", server.addr);
        let body =
            r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;
        let feed = tokio::spawn({
            let tx = server.chunks.clone();
            let chunks = chunks.clone();
            async move {
                // The first chunk 60 ms after the request, the rest 40 ms later.
                tokio::time::sleep(Duration::from_millis(60)).await;
                tx.send(chunks[0].clone()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(40)).await;
                for c in &chunks[1..] {
                    tx.send(c.clone()).await.unwrap();
                }
            }
        });
        drop(server.chunks); // the feeder's sender ends the stream
        let (status, mut stream) = open(adapter, &hl, Req::post(url, body)).await;
        assert_eq!(status, 200);
        // Read as the chunks come.
        while stream.next().await.is_some() {}
        feed.await.unwrap();
        let logs = flushed_logs(&hl, &sink, 1).await;
        let log = logs.last().expect("one log");
        let ttft = log["metadata"][TTFT]
            .as_f64()
            .unwrap_or_else(|| panic!("{adapter:?}: no {TTFT} in {log:#}"));
        let duration = log["duration"].as_f64().unwrap();
        assert!(
            ttft >= 0.05,
            "{adapter:?}: {ttft} s, the first chunk came after 60 ms"
        );
        assert!(
            ttft + 0.03 <= duration,
            "{adapter:?}: {ttft} s of {duration} s"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn cache_and_reasoning_tokens_are_logged_and_a_plain_call_has_no_ttft() {
    let server = provider().await;
    for adapter in ADAPTERS {
        let sink = Recorder::start().await;
        let hl = humanloop(&sink, |b| b);
        let req = Req::post(
            server.url("/v1/chat/completions"),
            r#"{"model":"o3-mini","messages":[{"role":"user","content":"Think."}]}"#,
        )
        .header("x-fixture", "openai/chat_reasoning_cached.json");
        assert_eq!(send(adapter, &hl, req).await.status, 200);
        let logs = flushed_logs(&hl, &sink, 1).await;
        let meta = &logs.last().expect("one log")["metadata"];
        assert_eq!(
            meta["gen_ai.usage.cache_read.input_tokens"], 1920,
            "{adapter:?}: {meta:#}"
        );
        assert_eq!(
            meta["gen_ai.usage.reasoning.output_tokens"], 1920,
            "{adapter:?}: {meta:#}"
        );
        assert!(
            meta.get(TTFT).is_none(),
            "{adapter:?}: not streamed: {meta:#}"
        );
    }
}
