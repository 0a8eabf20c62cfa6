//! A streamed completion with three interleaved samples, written in small TCP pieces that
//! cut lines (and `\r\n` pairs, and UTF-8 characters) in the middle, with comments, an
//! event spread over several `data:` lines and a `[DONE]` sentinel: every sample comes
//! back whole. Wire format: SPEC.md, "Streaming (stream = true)".

use std::time::Duration;

use crate::harness::raw::{client, RawServer, Reply};
use futures_util::StreamExt;
use humanloop_tracing::api::{CompletionModelConfigRequest, FinishReason};

const EVENTS: &[&str] = &[
    ": keep-alive\r\n\r\n",
    "data: {\"data\":[{\"id\":\"data_0\",\"index\":0,\"output\":\"Hel\",\"finish_reason\":null}],\"provider_responses\":[],\"num_samples\":3}\r\n\r\n",
    "data: {\"data\":[{\"id\":\"data_2\",\"index\":2,\"output\":\"Bon\",\"raw_output\":\" Bon\"}],\"provider_responses\":[]}\n\n",
    // One event over two `data:` lines: joined with a newline, still one JSON object.
    "data: {\"data\":[{\"id\":\"data_1\",\"index\":1,\r\ndata: \"output\":\"Olá\"}],\"provider_responses\":[]}\r\n\r\n",
    "data: {\"data\":[{\"index\":0,\"output\":\"lo\",\"finish_reason\":\"stop\"}],\"provider_responses\":[]}\r\n\r\n",
    "data: {\"data\":[{\"index\":2,\"output\":\"jour\",\"raw_output\":\"jour \",\"finish_reason\":\"length\"}],\"provider_responses\":[],\"usage\":{\"prompt_tokens\":5,\"generation_tokens\":7,\"total_tokens\":12}}\r\n\r\n",
    "data: {\"data\":[{\"index\":1,\"output\":\"!\",\"finish_reason\":\"content_filter\"}],\"provider_responses\":[]}\r\n\r\n",
    "data: [DONE]\r\n\r\n",
];

/// Cut the stream every 11 bytes and right after every `\r`.
fn pieces() -> Vec<Vec<u8>> {
    let all = EVENTS.concat().into_bytes();
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (i, b) in all.iter().enumerate() {
        cur.push(*b);
        if *b == b'\r' || i % 11 == 10 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn reply() -> Reply {
    Reply::Pieces {
        status: 200,
        content_type: "text/event-stream",
        pieces: pieces(),
        pause: Duration::from_millis(1),
    }
}

fn request() -> CompletionModelConfigRequest {
    CompletionModelConfigRequest::new("config_abc")
        .with_project("demo")
        .with_num_samples(3u32)
}

#[tokio::test]
async fn interleaved_samples_are_put_back_together() {
    let server = RawServer::start(vec![reply()]).await;
    let stream = client(&server.base_url())
        .completion_model_config_stream(&request())
        .await
        .unwrap();
    let samples = stream.collect_samples().await.unwrap();

    assert_eq!(samples.len(), 3);
    assert_eq!(samples[0].index, 0);
    assert_eq!(samples[0].id.as_deref(), Some("data_0"));
    assert_eq!(samples[0].output, "Hello");
    assert_eq!(samples[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(samples[1].output, "Olá!");
    assert_eq!(
        samples[1].finish_reason,
        Some(FinishReason::Other("content_filter".into()))
    );
    assert_eq!(samples[2].output, "Bonjour");
    assert_eq!(samples[2].raw_output.as_deref(), Some(" Bonjour "));
    assert_eq!(samples[2].finish_reason, Some(FinishReason::Length));

    // The request asked for a stream, whatever the caller's struct said.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v4/completion-model-config");
    assert_eq!(r.header("x-api-key"), Some("hl-test-key"));
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        serde_json::json!({
            "model_config_id": "config_abc",
            "stream": true,
            "project": "demo",
            "num_samples": 3
        })
    );
}

#[tokio::test]
async fn every_json_event_is_one_chunk_and_the_rest_is_skipped() {
    let server = RawServer::start(vec![reply()]).await;
    let mut stream = client(&server.base_url())
        .completion_model_config_stream(&request())
        .await
        .unwrap();
    let mut order = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.data.len(), 1);
        order.push(chunk.data[0].index);
    }
    // The comment and `[DONE]` are not chunks; arrival order is kept.
    assert_eq!(order, vec![0, 2, 1, 0, 2, 1]);
}
