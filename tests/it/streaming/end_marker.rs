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

/// One stream ended by its protocol's end marker.
struct Case {
    name: &'static str,
    fixture: &'static str,
    path: &'static str,
    body: &'static str,
    /// `capture_content`, when the case sets it.
    capture_content: Option<bool>,
    /// Whether the case also checks the log (no error, a non-empty output).
    check_log: bool,
}

const CASES: [Case; 2] = [
    // was `openai_done_marker_completes_the_call`
    Case {
        name: "openai data: [DONE]",
        fixture: "openai/chat_stream_include_usage.sse",
        path: "/v1/chat/completions",
        body: r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}"#,
        capture_content: Some(true),
        check_log: true,
    },
    // was `anthropic_message_stop_completes_the_call`
    Case {
        name: "anthropic message_stop",
        fixture: "anthropic/stream_basic.sse",
        path: "/v1/messages",
        body: r#"{"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#,
        capture_content: None,
        check_log: false,
    },
];

#[tokio::test(flavor = "current_thread")]
async fn the_end_marker_completes_the_call() {
    for case in CASES {
        let name = case.name;
        let sink = Recorder::start().await;
        for (n, adapter) in ADAPTERS.into_iter().enumerate() {
            let otel = otel();
            let hl = humanloop(&sink, |b| match case.capture_content {
                Some(on) => b.capture_content(on),
                None => b,
            });
            read_all_events_then_drop(adapter, &hl, case.fixture, case.path, case.body).await;
            let span = otel.genai_span();
            let a = attrs(&span);
            assert!(!is_error(&span), "{name} {adapter:?}: {a:#?}");
            assert!(!a.contains_key("error.type"), "{name} {adapter:?}: {a:#?}");
            assert!(
                a.contains_key("gen_ai.usage.output_tokens"),
                "{name}: {a:#?}"
            );
            if case.check_log {
                let logs = flushed_logs(&hl, &sink, n + 1).await;
                let log = &logs[n];
                assert!(
                    log.get("error").is_none_or(|e| e.is_null()),
                    "{name}: {log:#}"
                );
                assert!(
                    log["output"].as_str().is_some_and(|o| !o.is_empty()),
                    "{name}: {log:#}"
                );
            }
        }
    }
}

/// The end marker finishes the call on the caller's path even while the caller still
/// holds the body (the events are decoded off it): the span is closed, complete, before
/// the body is dropped. Text that only looks like a marker (inside a JSON string, where a
/// newline is escaped) does not end the call.
#[tokio::test(flavor = "current_thread")]
async fn the_end_marker_ends_the_span_while_the_body_is_held() {
    let cases = [
        (
            "openai/chat_stream_include_usage.sse",
            "/v1/chat/completions",
            r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}"#,
        ),
        (
            "anthropic/stream_basic.sse",
            "/v1/messages",
            r#"{"model":"claude-sonnet-4-5","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Hi"}]}"#,
        ),
        (
            "openai/responses_stream_text.sse",
            "/v1/responses",
            r#"{"model":"gpt-4.1","stream":true,"input":"Hi"}"#,
        ),
    ];
    // A chunk whose text reads like each marker, as a model could write it.
    let lookalike = bytes::Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\\ndata: [DONE]\\n\\nevent: message_stop\\n\\nevent: response.completed\\n\\n\"}}]}\n\n",
    );
    let sink = Recorder::start().await;
    for (fixture, path, body) in cases {
        for adapter in ADAPTERS {
            let otel = otel();
            let hl = humanloop(&sink, |b| b);
            let mut chunks = sse_chunks(fixture);
            let last = chunks.pop().unwrap();
            if path == "/v1/chat/completions" {
                chunks.insert(1, lookalike.clone());
            }
            let server = stream_server("text/event-stream").await;
            let (status, mut stream) = open(
                adapter,
                &hl,
                Req::post(format!("http://{}{path}", server.addr), body),
            )
            .await;
            assert_eq!(status, 200);
            let before: usize = chunks.iter().map(|c| c.len()).sum();
            for c in &chunks {
                server.chunks.send(c.clone()).await.unwrap();
            }
            assert_eq!(stream.read_exact(before).await.len(), before);
            hl.flush_spans();
            assert!(
                otel.genai_spans().is_empty(),
                "{fixture} {adapter:?}: no marker yet, the call is open"
            );
            server.chunks.send(last.clone()).await.unwrap();
            assert_eq!(stream.read_exact(last.len()).await.len(), last.len());
            // Still held, and no end of body came.
            let span = otel.genai_span();
            let a = attrs(&span);
            assert!(!is_error(&span), "{fixture} {adapter:?}: {a:#?}");
            assert!(
                !a.contains_key("error.type"),
                "{fixture} {adapter:?}: {a:#?}"
            );
            assert!(
                a.contains_key("gen_ai.usage.output_tokens"),
                "{fixture} {adapter:?}: {a:#?}"
            );
            drop(stream);
        }
    }
}
