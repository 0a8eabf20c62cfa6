//! A caller that drops a stream early (or the whole request before the head arrives)
//! still gets a finished span: status error, `error.type = cancelled`, the partial
//! output and what usage came; and a log with the partial output.

use crate::harness::{adapters::*, endpoint::*, fixtures::*, otel::*};
use opentelemetry::Value;

const BODY: &str =
    r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;

/// Open an OpenAI stream, read two chunks, drop it.
async fn read_two_chunks_and_drop(adapter: Adapter, hl: &humanloop_tracing::Humanloop) {
    let chunks = sse_chunks("openai/chat_stream_include_usage.sse");
    let server = stream_server("text/event-stream").await;
    let url = format!("http://{}/v1/chat/completions", server.addr);
    server.chunks.send(chunks[0].clone()).await.unwrap();
    server.chunks.send(chunks[1].clone()).await.unwrap();
    let (status, mut stream) = open(adapter, hl, Req::post(url, BODY)).await;
    assert_eq!(status, 200);
    let got = stream.read_exact(chunks[0].len() + chunks[1].len()).await;
    assert_eq!(got.len(), chunks[0].len() + chunks[1].len());
    drop(stream);
    // The server still holds the stream open: the end can only come from the drop.
    let _keep_open = server.chunks;
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_stream_after_two_chunks_finishes_the_span_as_cancelled() {
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b.capture_content(true));
        read_two_chunks_and_drop(adapter, &hl).await;

        let span = otel.genai_span();
        let a = attrs(&span);
        assert!(is_error(&span), "{adapter:?}");
        assert_eq!(a.get("error.type"), Some(&s("cancelled")), "{adapter:?}");
        assert_eq!(a.get("gen_ai.response.id"), Some(&s("chatcmpl-123")));
        let Some(Value::String(out)) = a.get("gen_ai.output.messages") else {
            panic!("{adapter:?}: no partial output in {a:#?}");
        };
        let out: serde_json::Value = serde_json::from_str(out.as_str()).unwrap();
        assert_eq!(out[0]["role"], "assistant");
        assert_eq!(out[0]["parts"][0]["content"], "Hello", "{out}");
        assert!(a.contains_key("gen_ai.response.time_to_first_chunk"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_stream_is_logged_with_its_partial_output() {
    let sink = Recorder::start().await;
    for (n, adapter) in ADAPTERS.into_iter().enumerate() {
        let _otel = otel();
        let hl = humanloop(&sink, |b| b);
        read_two_chunks_and_drop(adapter, &hl).await;
        let logs = flushed_logs(&hl, &sink, n + 1).await;
        assert_eq!(logs.len(), n + 1, "{adapter:?}");
        let log = &logs[n];
        assert_eq!(log["output"], "Hello", "{log:#}");
        assert!(
            log["error"].as_str().unwrap().contains("cancelled"),
            "{log:#}"
        );
        assert_eq!(log["config"]["model"], "gpt-4o-mini");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_request_before_the_head_finishes_the_span_as_cancelled() {
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b);
        let server = stream_server("text/event-stream").await;
        let url = format!("http://{}/v1/chat/completions", server.addr);
        // The server answers nothing; the caller gives up once the request arrived.
        let arrived = server.arrived.notified();
        tokio::select! {
            _ = open(adapter, &hl, Req::post(url, BODY)) => panic!("no head was sent"),
            _ = arrived => {}
        }
        let span = otel.genai_span();
        let a = attrs(&span);
        assert!(is_error(&span));
        assert_eq!(a.get("error.type"), Some(&s("cancelled")), "{adapter:?}");
        assert_eq!(a.get("gen_ai.request.model"), Some(&s("gpt-4o-mini")));
    }
}
