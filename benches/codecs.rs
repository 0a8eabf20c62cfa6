//! Decoding throughput of each codec on its documented fixtures, next to parsing the
//! same bytes into a `serde_json::Value` (the baseline a naive decoder would pay before
//! even looking at the fields).
//!
//! Plain bodies are decoded with `on_body`; streams as their sequence of SSE events with
//! `on_event`, `finish` included in both. Run:
//! `cargo bench --bench codecs -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use humanloop_tracing::provider::{
    AnthropicMessages, Codec, Gemini, LlmRequest, OpenAiChat, OpenAiEmbeddings, OpenAiResponses,
    Operation,
};

fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The `(event, data)` pairs of an SSE body; JSON events only (what both sides parse).
fn sse_events(body: &[u8]) -> Vec<(Option<String>, Vec<u8>)> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut event = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if data.starts_with('{') {
            out.push((event, data.into_bytes()));
        }
    }
    out
}

fn bench_body(c: &mut Criterion, name: &str, codec: &dyn Codec, file: &str) {
    let body = fixture(file);
    let req = LlmRequest::empty(Operation::Chat);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("codec", |b| {
        b.iter(|| {
            let mut d = codec.response_decoder(&req);
            d.on_body(black_box(&body));
            black_box(d.finish())
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).ok()))
    });
    g.finish();
}

fn bench_stream(c: &mut Criterion, name: &str, codec: &dyn Codec, file: &str) {
    let events = sse_events(&fixture(file));
    let bytes: usize = events.iter().map(|(_, d)| d.len()).sum();
    let req = LlmRequest::empty(Operation::Chat);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("codec", |b| {
        b.iter(|| {
            let mut d = codec.response_decoder(&req);
            for (event, data) in &events {
                d.on_event(event.as_deref(), black_box(data));
            }
            black_box(d.finish())
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            for (_, data) in &events {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(data)).ok());
            }
        })
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    bench_body(
        c,
        "openai_chat_body",
        &OpenAiChat,
        "openai/chat_tool_calls.json",
    );
    bench_stream(
        c,
        "openai_chat_stream",
        &OpenAiChat,
        "openai/chat_stream_include_usage.sse",
    );
    bench_stream(
        c,
        "openai_chat_stream_tools",
        &OpenAiChat,
        "openai/chat_stream_tool_call.sse",
    );
    bench_stream(
        c,
        "openai_chat_stream_n2",
        &OpenAiChat,
        "openai/chat_stream_n2.sse",
    );
    bench_body(
        c,
        "openai_responses_body",
        &OpenAiResponses,
        "openai/responses_basic.json",
    );
    bench_stream(
        c,
        "openai_responses_stream",
        &OpenAiResponses,
        "openai/responses_stream_text.sse",
    );
    bench_body(
        c,
        "openai_embeddings_body",
        &OpenAiEmbeddings,
        "openai/embeddings_basic.json",
    );
    bench_body(
        c,
        "anthropic_body",
        &AnthropicMessages,
        "anthropic/message_tool_use.json",
    );
    bench_stream(
        c,
        "anthropic_stream",
        &AnthropicMessages,
        "anthropic/stream_tool_use.sse",
    );
    bench_body(
        c,
        "gemini_body",
        &Gemini,
        "gemini/generate_thinking_cached.json",
    );
    bench_stream(c, "gemini_stream", &Gemini, "gemini/stream_alt_sse.sse");
    bench_stream(c, "azure_chat_stream", &OpenAiChat, "azure/chat_stream.sse");
}

criterion_group!(benches, codecs);
criterion_main!(benches);
