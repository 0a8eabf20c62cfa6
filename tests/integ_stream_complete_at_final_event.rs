//! A stream is complete once its protocol has said everything that matters, even when the
//! caller drops the body before the connection's end (rig stops reading an Anthropic
//! stream at the `message_delta` that carries the stop reason); a stream cut before that
//! is still `cancelled`. Each case runs with the default configuration and no subscriber,
//! and again with an OpenTelemetry subscriber (the span must agree with the log).

#[path = "it/harness/mod.rs"]
mod harness;

use std::time::Duration;

use bytes::Bytes;
use harness::{adapters::*, endpoint::*, fixtures::*, otel::*};
use serde_json::{json, Value as Json};

struct Case {
    name: &'static str,
    path: &'static str,
    body: Json,
    fixture: &'static str,
    /// Events the server sends (it then keeps the connection open).
    events: usize,
    complete: bool,
}

fn cases() -> Vec<Case> {
    let anthropic = json!({"model": "claude-opus-4-1", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Hi"}]});
    let chat_usage = json!({"model": "gpt-4o-mini", "stream": true,
        "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hi"}]});
    let chat = json!({"model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "Hi"}]});
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "Tell me a story"}]}]});
    let responses = json!({"model": "gpt-4o", "stream": true, "input": "Hi"});
    let gemini_path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";
    let c = |name, path, body: &Json, fixture, events, complete| Case {
        name,
        path,
        body: body.clone(),
        fixture,
        events,
        complete,
    };
    vec![
        // message_start … content_block_stop, message_delta(stop_reason, usage); no message_stop.
        c(
            "anthropic at message_delta",
            "/v1/messages",
            &anthropic,
            "anthropic/stream_basic.sse",
            7,
            true,
        ),
        c(
            "anthropic before message_delta",
            "/v1/messages",
            &anthropic,
            "anthropic/stream_basic.sse",
            6,
            false,
        ),
        // Finish reason, then the usage chunk; no [DONE].
        c(
            "chat with usage, at the usage chunk",
            "/v1/chat/completions",
            &chat_usage,
            "openai/chat_stream_include_usage.sse",
            6,
            true,
        ),
        c(
            "chat with usage, before the usage chunk",
            "/v1/chat/completions",
            &chat_usage,
            "openai/chat_stream_include_usage.sse",
            5,
            false,
        ),
        c(
            // Compatible servers send usage unasked: without it the stream is not over.
            "chat without include_usage, at the finish reason",
            "/v1/chat/completions",
            &chat,
            "openai/chat_stream_include_usage.sse",
            5,
            false,
        ),
        c(
            "chat without include_usage, at the usage chunk",
            "/v1/chat/completions",
            &chat,
            "openai/chat_stream_include_usage.sse",
            6,
            true,
        ),
        // Gemini has no end marker: the chunk with finishReason and usage is the last word.
        c(
            "gemini at the finishing chunk",
            gemini_path,
            &gemini,
            "gemini/stream_alt_sse.sse",
            3,
            true,
        ),
        c(
            "gemini before it",
            gemini_path,
            &gemini,
            "gemini/stream_alt_sse.sse",
            2,
            false,
        ),
        // Responses: response.completed (it carries the usage).
        c(
            "responses at response.completed",
            "/v1/responses",
            &responses,
            "openai/responses_stream_text.sse",
            18,
            true,
        ),
        c(
            "responses before it",
            "/v1/responses",
            &responses,
            "openai/responses_stream_text.sse",
            17,
            false,
        ),
    ]
}

/// The fixture's events, each with its blank line (`\n\n` or `\r\n\r\n`).
fn events(name: &str) -> Vec<Bytes> {
    let all = fixture(name);
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < all.len() {
        let end = if all[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if all[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        };
        if let Some(end) = end {
            out.push(all.slice(start..end));
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < all.len() {
        out.push(all.slice(start..));
    }
    out
}

async fn run(case: &Case, adapter: Adapter, with_otel: bool) {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = with_otel.then(otel);
    let server = stream_server("text/event-stream").await;
    let chunks = events(case.fixture);
    assert!(
        chunks.len() >= case.events,
        "{}: fixture too short",
        case.name
    );
    let sent: Vec<Bytes> = chunks[..case.events].to_vec();
    let total: usize = sent.iter().map(Bytes::len).sum();
    let tx = server.chunks.clone();
    // The channel holds 16 chunks: send while the caller reads.
    tokio::spawn(async move {
        for c in sent {
            let _ = tx.send(c).await;
        }
        // Keep the connection open: the sender lives until the test ends.
        std::future::pending::<()>().await;
    });
    let url = format!("http://{}{}", server.addr, case.path);
    let (status, mut body) = open(adapter, &hl, Req::post(url, case.body.to_string())).await;
    assert_eq!(status, 200);
    body.read_exact(total).await;
    // The caller has what it wants and lets go; the connection is still open.
    drop(body);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs.len(), 1, "{}: {logs:#?}", case.name);
    let error = logs[0].get("error").and_then(Json::as_str);
    let what = format!("{} ({adapter:?}, otel: {with_otel})", case.name);
    if case.complete {
        assert_eq!(
            error, None,
            "{what}: a complete stream was logged as failed"
        );
        assert!(
            logs[0]["output"].as_str().is_some_and(|o| !o.is_empty()),
            "{what}: {:#?}",
            logs[0]
        );
    } else {
        assert!(
            error.is_some_and(|e| e.starts_with("cancelled")),
            "{what}: a cut stream must be cancelled, got {error:?}"
        );
    }
    if let Some(otel) = otel {
        let span = otel.genai_span();
        let error_type = attrs(&span)
            .get("error.type")
            .map(|v| v.as_str().into_owned());
        if case.complete {
            assert_eq!(error_type, None, "{what}");
            assert!(
                attrs(&span).contains_key("gen_ai.response.finish_reasons"),
                "{what}: the finish reason is kept"
            );
        } else {
            assert_eq!(error_type.as_deref(), Some("cancelled"), "{what}");
        }
    }
}

// One test, run in order: a test without a subscriber beside one with a thread-local
// subscriber would share tracing's callsite interest across threads.
#[tokio::test(flavor = "current_thread")]
async fn integ_stream_complete_at_final_event() {
    for case in cases() {
        for adapter in ADAPTERS {
            run(&case, adapter, false).await;
        }
    }
    for case in cases() {
        run(&case, Adapter::Reqwest, true).await;
    }
    keeps_the_final_usage().await;
}

async fn keeps_the_final_usage() {
    // Complete at message_delta: the usage and finish reason it carried are in the log.
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let server = stream_server("text/event-stream").await;
    let chunks = events("anthropic/stream_basic.sse");
    let total: usize = chunks[..7].iter().map(Bytes::len).sum();
    for c in &chunks[..7] {
        server.chunks.send(c.clone()).await.unwrap();
    }
    let body = json!({"model": "claude-opus-4-1", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Hi"}]});
    let url = format!("http://{}/v1/messages", server.addr);
    let (_, mut caller) = open(Adapter::Reqwest, &hl, Req::post(url, body.to_string())).await;
    caller.read_exact(total).await;
    drop(caller);
    let logs = flushed_logs(&hl, &sink, 1).await;
    let log = &logs[0];
    assert_eq!(log["output"], "Hello!");
    assert_eq!(log["output_tokens"], 15, "{log:#?}");
}
