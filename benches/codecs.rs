//! Decoding throughput of each codec on its documented fixtures, next to parsing the
//! same bytes into a `serde_json::Value` (the baseline a naive decoder would pay before
//! even looking at the fields).
//!
//! Plain bodies are decoded with `on_body`; streams as their sequence of SSE events (NDJSON
//! lines for Ollama) with `on_event`, `finish` included in both. The head decoders, what
//! the span needs on the caller's path, have rows of their own: `on_body_head` of a
//! response body, `decode_request_head` of a request body. Run:
//! `cargo bench --bench codecs -- --warm-up-time 1 --measurement-time 2`.
//!
//! After criterion's groups, a second table measures the same pairs interleaved (codec
//! and baseline alternate, best of many rounds), which keeps the ratio meaningful on a
//! loaded machine where the two sides of a criterion group run under different load.
//!
//! `CODECS_PROFILE=<case>` runs only that case's codec, 10 000 times, for a profiler
//! (`CODECS_PROFILE=value:<case>` its baseline).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use humanloop_tracing::provider::{
    AnthropicMessages, Codec, Gemini, LlmRequest, Ollama, OpenAiChat, OpenAiCompletions,
    OpenAiEmbeddings, OpenAiResponses, Operation, RequestHead,
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

fn codecs(c: &mut Criterion) {
    let req = LlmRequest::empty(Operation::Chat);
    for case in cases() {
        let bytes: usize = case.events.iter().map(|(_, d)| d.len()).sum();
        let mut g = c.benchmark_group(case.name);
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("codec", |b| b.iter(|| run_codec(&case, &req)));
        g.bench_function("serde_json_value", |b| b.iter(|| run_value(&case)));
        g.finish();
    }
}

/// How a case's bytes are decoded.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A response body, `on_body`.
    Body,
    /// A stream, `on_event` per event.
    Stream,
    /// A response body's head (what the span needs), `on_body_head`.
    BodyHead,
    /// A request body's head, `decode_request_head` (the request's URL).
    RequestHead(&'static str),
}

/// One benchmark case: a codec and its input, as a plain body or a stream of events.
struct Case {
    name: &'static str,
    codec: &'static dyn Codec,
    events: Vec<(Option<String>, Vec<u8>)>,
    kind: Kind,
}

fn cases() -> Vec<Case> {
    let body = |name, codec: &'static dyn Codec, file| Case {
        name,
        codec,
        events: vec![(None, fixture(file))],
        kind: Kind::Body,
    };
    let stream = |name, codec: &'static dyn Codec, file| Case {
        name,
        codec,
        events: sse_events(&fixture(file)),
        kind: Kind::Stream,
    };
    let body_head = |name, codec: &'static dyn Codec, file| Case {
        name,
        codec,
        events: vec![(None, fixture(file))],
        kind: Kind::BodyHead,
    };
    let request_head = |name, codec: &'static dyn Codec, url, file| Case {
        name,
        codec,
        events: vec![(None, fixture(file))],
        kind: Kind::RequestHead(url),
    };
    let lines = |name, codec: &'static dyn Codec, file| Case {
        name,
        codec,
        events: fixture(file)
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"{"))
            .map(|l| (None, l.to_vec()))
            .collect(),
        kind: Kind::Stream,
    };
    vec![
        body(
            "openai_chat_body",
            &OpenAiChat,
            "openai/chat_tool_calls.json",
        ),
        stream(
            "openai_chat_stream",
            &OpenAiChat,
            "openai/chat_stream_include_usage.sse",
        ),
        stream(
            "openai_chat_stream_tools",
            &OpenAiChat,
            "openai/chat_stream_tool_call.sse",
        ),
        stream(
            "openai_chat_stream_n2",
            &OpenAiChat,
            "openai/chat_stream_n2.sse",
        ),
        body(
            "openai_responses_body",
            &OpenAiResponses,
            "openai/responses_basic.json",
        ),
        stream(
            "openai_responses_stream",
            &OpenAiResponses,
            "openai/responses_stream_text.sse",
        ),
        body(
            "openai_embeddings_body",
            &OpenAiEmbeddings,
            "openai/embeddings_basic.json",
        ),
        body(
            "anthropic_body",
            &AnthropicMessages,
            "anthropic/message_tool_use.json",
        ),
        stream(
            "anthropic_stream",
            &AnthropicMessages,
            "anthropic/stream_tool_use.sse",
        ),
        body(
            "gemini_body",
            &Gemini,
            "gemini/generate_thinking_cached.json",
        ),
        stream("gemini_stream", &Gemini, "gemini/stream_alt_sse.sse"),
        stream("azure_chat_stream", &OpenAiChat, "azure/chat_stream.sse"),
        stream(
            "openai_completions_stream",
            &OpenAiCompletions,
            "openai/completions_stream.sse",
        ),
        lines("ollama_chat_stream", &Ollama, "ollama/chat_stream.ndjson"),
        // The head decoders: what the span needs, on the caller's path.
        body_head(
            "openai_chat_body_head",
            &OpenAiChat,
            "openai/chat_tool_calls.json",
        ),
        body_head(
            "openai_responses_body_head",
            &OpenAiResponses,
            "openai/responses_basic.json",
        ),
        body_head(
            "anthropic_body_head",
            &AnthropicMessages,
            "anthropic/message_tool_use.json",
        ),
        body_head(
            "gemini_body_head",
            &Gemini,
            "gemini/generate_thinking_cached.json",
        ),
        request_head(
            "openai_chat_request_head",
            &OpenAiChat,
            "https://api.openai.com/v1/chat/completions",
            "openai/chat_request_tools.json",
        ),
        request_head(
            "openai_responses_request_head",
            &OpenAiResponses,
            "https://api.openai.com/v1/responses",
            "openai/responses_request.json",
        ),
        request_head(
            "anthropic_request_head",
            &AnthropicMessages,
            "https://api.anthropic.com/v1/messages",
            "anthropic/request_tools.json",
        ),
        request_head(
            "gemini_request_head",
            &Gemini,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
            "gemini/request_function_calling.json",
        ),
    ]
}

fn run_codec(case: &Case, req: &LlmRequest) {
    if let Kind::RequestHead(url) = case.kind {
        let (method, headers) = (http::Method::POST, http::HeaderMap::new());
        let uri = http::Uri::from_static(url);
        let head = RequestHead {
            method: &method,
            uri: &uri,
            headers: &headers,
        };
        black_box(
            case.codec
                .decode_request_head(&head, black_box(&case.events[0].1)),
        );
        return;
    }
    let mut d = case.codec.response_decoder(req);
    for (event, data) in &case.events {
        match case.kind {
            Kind::Stream => d.on_event(event.as_deref(), black_box(data)),
            Kind::BodyHead => d.on_body_head(black_box(data)),
            _ => d.on_body(black_box(data)),
        }
    }
    black_box(d.finish());
}

fn run_value(case: &Case) {
    for (_, data) in &case.events {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(data)).ok());
    }
}

/// Best time of `f` over a batch of `n` runs.
fn batch(n: u32, f: &mut dyn FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn interleaved_report() {
    let req = LlmRequest::empty(Operation::Chat);
    println!("\ninterleaved (best of 300 alternating rounds of 20 runs each):");
    println!(
        "{:<30} {:>6} {:>10} {:>10} {:>7}",
        "case", "bytes", "codec", "Value", "ratio"
    );
    for case in cases() {
        let bytes: usize = case.events.iter().map(|(_, d)| d.len()).sum();
        let (mut c, mut v) = (Duration::MAX, Duration::MAX);
        for _ in 0..300 {
            c = c.min(batch(20, &mut || run_codec(&case, &req)));
            v = v.min(batch(20, &mut || run_value(&case)));
        }
        println!(
            "{:<30} {:>6} {:>8.2}us {:>8.2}us {:>6.2}x",
            case.name,
            bytes,
            c.as_secs_f64() * 1e6,
            v.as_secs_f64() * 1e6,
            v.as_secs_f64() / c.as_secs_f64()
        );
    }
}

criterion_group!(benches, codecs);

fn main() {
    if let Ok(name) = std::env::var("CODECS_PROFILE") {
        let req = LlmRequest::empty(Operation::Chat);
        let (value, name) = match name.strip_prefix("value:") {
            Some(n) => (true, n.to_owned()),
            None => (false, name),
        };
        for case in cases().into_iter().filter(|c| c.name == name) {
            for _ in 0..10_000 {
                if value {
                    run_value(&case);
                } else {
                    run_codec(&case, &req);
                }
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        interleaved_report();
    }
}
