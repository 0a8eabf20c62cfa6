//! The added cost per stream chunk: a stream of N text deltas in each streaming format
//! (OpenAI chat, Responses, completions, Anthropic, Gemini, Ollama's NDJSON) drained
//! through an in-process tower service, bare and behind our layer. No network, so the difference is the tee, the SSE splitter and the codec.
//! `serde_json::from_slice::<Value>` of one chunk is measured beside it as the yardstick.
//! The caller's path only keeps the chunks; the splitter and the codec run on the
//! finisher's thread, so the table gives both: the caller's added time, and the time until
//! the call is completed (`Humanloop::flush_spans` returned), which the ratio is taken of.
//!
//! Run: `cargo bench --bench per_chunk`.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::Humanloop;
use hyper::body::Frame;
use tower::{Service, ServiceBuilder, ServiceExt};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// One streaming format: where it is sent, what is asked, and the frames of an answer of
/// `n` text deltas (the prelude and epilogue each protocol needs around them).
struct Format {
    name: &'static str,
    url: &'static str,
    request: &'static str,
    content_type: &'static str,
    /// Frames before the deltas.
    prelude: &'static [&'static str],
    /// The `i`th delta event.
    delta: fn(usize) -> String,
    /// Frames after the deltas.
    epilogue: &'static [&'static str],
}

impl Format {
    fn frames(&self, n: usize) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self
            .prelude
            .iter()
            .map(|f| Bytes::from_static(f.as_bytes()))
            .collect();
        v.extend((0..n).map(|i| Bytes::from((self.delta)(i))));
        v.extend(
            self.epilogue
                .iter()
                .map(|f| Bytes::from_static(f.as_bytes())),
        );
        v
    }

    /// The request the provider is sent.
    fn request(&self) -> http::Request<Full<Bytes>> {
        http::Request::post(self.url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(self.request.as_bytes())))
            .unwrap()
    }

    /// The JSON of one delta event, for the yardstick.
    fn delta_json(&self) -> Vec<u8> {
        let event = (self.delta)(7);
        let line = event
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap_or(event.trim_end());
        line.as_bytes().to_vec()
    }
}

fn formats() -> Vec<Format> {
    vec![
        Format {
            name: "openai_chat",
            url: "https://api.openai.com/v1/chat/completions",
            request: r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Plan three days in Lisbon."}],"stream":true,"stream_options":{"include_usage":true}}"#,
            content_type: "text/event-stream",
            prelude: &[],
            delta: |i| format!("data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"),
            epilogue: &[
                "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n",
                "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":64,\"total_tokens\":83}}\n\n",
                "data: [DONE]\n\n",
            ],
        },
        Format {
            name: "openai_responses",
            url: "https://api.openai.com/v1/responses",
            request: r#"{"model":"gpt-4.1","input":"Plan three days in Lisbon.","stream":true}"#,
            content_type: "text/event-stream",
            prelude: &[
                "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_bench\",\"object\":\"response\",\"created_at\":1741290958,\"status\":\"in_progress\",\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],\"usage\":null},\"sequence_number\":0}\n\n",
                "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"msg_bench\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]},\"sequence_number\":1}\n\n",
                "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]},\"sequence_number\":2}\n\n",
            ],
            delta: |i| format!("event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"delta\":\"word{i} \",\"sequence_number\":{}}}\n\n", i + 3),
            epilogue: &[
                "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"item_id\":\"msg_bench\",\"output_index\":0,\"content_index\":0,\"text\":\"words\",\"sequence_number\":9000}\n\n",
                "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_bench\",\"object\":\"response\",\"created_at\":1741290958,\"status\":\"completed\",\"model\":\"gpt-4.1-2025-04-14\",\"output\":[{\"id\":\"msg_bench\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"words\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":19,\"output_tokens\":64,\"total_tokens\":83}},\"sequence_number\":9001}\n\n",
            ],
        },
        Format {
            name: "openai_completions",
            url: "https://api.openai.com/v1/completions",
            request: r#"{"model":"gpt-3.5-turbo-instruct","prompt":"Plan three days in Lisbon.","stream":true}"#,
            content_type: "text/event-stream",
            prelude: &[],
            delta: |i| format!("data: {{\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1690759702,\"choices\":[{{\"text\":\"word{i} \",\"index\":0,\"logprobs\":null,\"finish_reason\":null}}],\"model\":\"gpt-3.5-turbo-instruct\",\"system_fingerprint\":\"fp_44709d6fcb\"}}\n\n"),
            epilogue: &[
                "data: {\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":1690759702,\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],\"model\":\"gpt-3.5-turbo-instruct\"}\n\n",
                "data: [DONE]\n\n",
            ],
        },
        Format {
            name: "anthropic",
            url: "https://api.anthropic.com/v1/messages",
            request: r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Plan three days in Lisbon."}],"stream":true}"#,
            content_type: "text/event-stream",
            prelude: &[
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            ],
            delta: |i| format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"),
            epilogue: &[
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":64}}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ],
        },
        Format {
            name: "gemini",
            url: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
            request: r#"{"contents":[{"role":"user","parts":[{"text":"Plan three days in Lisbon."}]}]}"#,
            content_type: "text/event-stream",
            prelude: &[],
            delta: |i| format!("data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"word{i} \"}}],\"role\": \"model\"}},\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": 9,\"totalTokenCount\": 9}},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"mQ9SaLm3OoL2xN8P4s2u8Qk\"}}\r\n\r\n"),
            epilogue: &[
                "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \".\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 64,\"totalTokenCount\": 73},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"mQ9SaLm3OoL2xN8P4s2u8Qk\"}\r\n\r\n",
            ],
        },
        Format {
            name: "ollama",
            url: "http://localhost:11434/api/chat",
            request: r#"{"model":"llama3.2","messages":[{"role":"user","content":"Plan three days in Lisbon."}]}"#,
            content_type: "application/x-ndjson",
            prelude: &[],
            delta: |i| format!("{{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{{\"role\":\"assistant\",\"content\":\"word{i} \"}},\"done\":false}}\n"),
            epilogue: &[
                "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":4883583458,\"load_duration\":1334875,\"prompt_eval_count\":26,\"prompt_eval_duration\":342546000,\"eval_count\":64,\"eval_duration\":4535599000}\n",
            ],
        },
    ]
}

/// An in-process "provider": answers every request with the given frames as a stream.
fn provider(
    frames: Vec<Bytes>,
    content_type: &'static str,
) -> impl Service<
    http::Request<Full<Bytes>>,
    Response = http::Response<Body>,
    Error = Infallible,
    Future = std::future::Ready<Result<http::Response<Body>, Infallible>>,
> + Clone {
    tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        let frames = frames.clone();
        let body = StreamBody::new(futures_util::stream::iter(
            frames
                .into_iter()
                .map(|f| Ok::<_, Infallible>(Frame::data(f))),
        ));
        std::future::ready(Ok(http::Response::builder()
            .header("content-type", content_type)
            .body(Body::new(body))
            .unwrap()))
    })
}

fn per_chunk(c: &mut Criterion) {
    let rt = common::runtime();
    let hl = rt.block_on(async { common::humanloop(|c| c) });

    let formats = formats();
    for f in &formats {
        let mut group = c.benchmark_group(format!("per_chunk/{}", f.name));
        for n in [1usize, 64, 1024] {
            let frames = f.frames(n);
            group.throughput(Throughput::Elements(n as u64));
            let bare = provider(frames.clone(), f.content_type);
            group.bench_function(BenchmarkId::new("bare", n), |b| {
                b.to_async(&rt).iter(|| async {
                    let resp = bare.clone().oneshot(f.request()).await.unwrap();
                    resp.into_body().collect().await.unwrap()
                })
            });
            let ours = ServiceBuilder::new()
                .layer(hl.layer())
                .service(provider(frames.clone(), f.content_type));
            group.bench_function(BenchmarkId::new("humanloop", n), |b| {
                b.to_async(&rt).iter(|| async {
                    let resp = ours.clone().oneshot(f.request()).await.unwrap();
                    resp.into_body().collect().await.unwrap()
                })
            });
        }
        // The yardstick: parsing one delta's JSON into a Value.
        let data = f.delta_json();
        group.bench_function("serde_json Value of one chunk", |b| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(std::hint::black_box(&data)).unwrap()
            })
        });
        group.finish();
    }
    interleaved_report(&rt, &hl, &formats);
}

/// Criterion runs each side after the other; on a shared machine their load differs. This
/// table alternates bare, ours and the `Value` parse within each round and takes each
/// one's best round, so the ratio compares runs made under the same load.
fn interleaved_report(rt: &tokio::runtime::Runtime, hl: &Humanloop, formats: &[Format]) {
    if common::no_report() {
        return;
    }
    const N: usize = 1024;
    const ROUNDS: usize = 40;
    println!("\nper_chunk interleaved (best of {ROUNDS} rounds, {N} chunks; added per chunk = (ours - bare) / {N}, on the caller's path and until completed):");
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>12} {:>12} {:>14} {:>7}",
        "format",
        "bare",
        "humanloop",
        "caller/chunk",
        "completed",
        "added/chunk",
        "Value/chunk",
        "ratio"
    );
    for f in formats {
        let frames = f.frames(N);
        let bare = provider(frames.clone(), f.content_type);
        let ours = ServiceBuilder::new()
            .layer(hl.layer())
            .service(provider(frames, f.content_type));
        let data = f.delta_json();
        let (mut t_bare, mut t_ours, mut t_done, mut t_value) =
            (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            let t = std::time::Instant::now();
            rt.block_on(async {
                let resp = bare.clone().oneshot(f.request()).await.unwrap();
                std::hint::black_box(resp.into_body().collect().await.unwrap());
            });
            t_bare = t_bare.min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            rt.block_on(async {
                let resp = ours.clone().oneshot(f.request()).await.unwrap();
                std::hint::black_box(resp.into_body().collect().await.unwrap());
            });
            t_ours = t_ours.min(t.elapsed().as_secs_f64());
            hl.flush_spans();
            let t = std::time::Instant::now();
            rt.block_on(async {
                let resp = ours.clone().oneshot(f.request()).await.unwrap();
                std::hint::black_box(resp.into_body().collect().await.unwrap());
            });
            hl.flush_spans();
            t_done = t_done.min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            for _ in 0..N {
                std::hint::black_box(
                    serde_json::from_slice::<serde_json::Value>(std::hint::black_box(&data))
                        .unwrap(),
                );
            }
            t_value = t_value.min(t.elapsed().as_secs_f64());
        }
        let caller = (t_ours - t_bare) / N as f64;
        let added = (t_done - t_bare) / N as f64;
        let value = t_value / N as f64;
        println!(
            "{:<20} {:>10.1}us {:>10.1}us {:>10.2}us {:>10.1}us {:>10.2}us {:>12.2}us {:>6.2}x",
            f.name,
            t_bare * 1e6,
            t_ours * 1e6,
            caller * 1e6,
            t_done * 1e6,
            added * 1e6,
            value * 1e6,
            added / value
        );
    }
}
criterion_group!(benches, per_chunk);
criterion_main!(benches);
