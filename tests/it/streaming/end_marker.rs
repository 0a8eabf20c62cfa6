//! A caller that stops reading at the protocol's end marker (`data: [DONE]`,
//! `message_stop`) and drops the body before the connection closes, as most SSE clients
//! do, has made a complete call: the span and the log carry no error, and the full
//! output and usage.

use crate::harness::{adapters::*, endpoint::*, fixtures::*, otel::*};

async fn read_all_events_then_drop(
    adapter: Adapter,
    hl: &humanloop_tracing::Humanloop,
    fixture: &str,
    path: &str,
    body: &'static str,
) {
    let chunks = sse_chunks(fixture);
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let server = stream_server("text/event-stream").await;
    for c in &chunks {
        server.chunks.send(c.clone()).await.unwrap();
    }
    let (status, mut stream) = open(
        adapter,
        hl,
        Req::post(format!("http://{}{path}", server.addr), body),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stream.read_exact(total).await.len(), total);
    drop(stream);
    // The server still holds the connection open: no end of body ever came.
    let _keep_open = server.chunks;
}

#[tokio::test(flavor = "current_thread")]
async fn openai_done_marker_completes_the_call() {
    let sink = Recorder::start().await;
    for (n, adapter) in ADAPTERS.into_iter().enumerate() {
        let otel = otel();
        let hl = humanloop(&sink, |b| b.capture_content(true));
        read_all_events_then_drop(
            adapter,
            &hl,
            "openai/chat_stream_include_usage.sse",
            "/v1/chat/completions",
            r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}"#,
        )
        .await;
        let span = otel.genai_span();
        let a = attrs(&span);
        assert!(!is_error(&span), "{adapter:?}: {a:#?}");
        assert!(!a.contains_key("error.type"), "{adapter:?}: {a:#?}");
        assert!(a.contains_key("gen_ai.usage.output_tokens"), "{a:#?}");
        let logs = flushed_logs(&hl, &sink, n + 1).await;
        let log = &logs[n];
        assert!(log.get("error").is_none_or(|e| e.is_null()), "{log:#}");
        assert!(
            log["output"].as_str().is_some_and(|o| !o.is_empty()),
            "{log:#}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn anthropic_message_stop_completes_the_call() {
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b);
        read_all_events_then_drop(
            adapter,
            &hl,
            "anthropic/stream_basic.sse",
            "/v1/messages",
            r#"{"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#,
        )
        .await;
        let span = otel.genai_span();
        let a = attrs(&span);
        assert!(!is_error(&span), "{adapter:?}: {a:#?}");
        assert!(!a.contains_key("error.type"), "{adapter:?}: {a:#?}");
        assert!(a.contains_key("gen_ai.usage.output_tokens"), "{a:#?}");
    }
}
