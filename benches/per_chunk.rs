//! The added cost per SSE chunk: a stream of N events (OpenAI chat chunks or Anthropic
//! message events) drained through an in-process tower service, bare and behind our
//! layer. No network, so the difference is the tee, the SSE splitter and the codec.
//! `serde_json::from_slice::<Value>` of one chunk is measured beside it as the yardstick.
//!
//! Run: `cargo bench --bench per_chunk`.

use std::convert::Infallible;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::{Config, Humanloop};
use hyper::body::Frame;
use tower::{Service, ServiceBuilder, ServiceExt};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn openai_event(i: usize) -> Bytes {
    Bytes::from(format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
    ))
}

fn anthropic_event(i: usize) -> Bytes {
    Bytes::from(format!(
        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word{i} \"}}}}\n\n"
    ))
}

fn openai_frames(n: usize) -> Vec<Bytes> {
    let mut v: Vec<Bytes> = (0..n).map(openai_event).collect();
    v.push(Bytes::from_static(b"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":64,\"total_tokens\":83}}\n\n"));
    v.push(Bytes::from_static(b"data: [DONE]\n\n"));
    v
}

fn anthropic_frames(n: usize) -> Vec<Bytes> {
    let mut v = vec![
        Bytes::from_static(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"),
        Bytes::from_static(b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"),
    ];
    v.extend((0..n).map(anthropic_event));
    v.push(Bytes::from_static(
        b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    ));
    v.push(Bytes::from_static(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":64}}\n\n"));
    v.push(Bytes::from_static(
        b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ));
    v
}

const OPENAI_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Plan three days in Lisbon."}],"stream":true,"stream_options":{"include_usage":true}}"#;
const ANTHROPIC_REQ: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Plan three days in Lisbon."}],"stream":true}"#;

/// An in-process "provider": answers every request with the given frames as a stream.
fn provider(
    frames: Vec<Bytes>,
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
            .header("content-type", "text/event-stream")
            .body(Body::new(body))
            .unwrap()))
    })
}

fn per_chunk(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hl = rt.block_on(async {
        Humanloop::new(
            Config::builder()
                .base_url("http://127.0.0.1:9/v4")
                .build()
                .unwrap(),
        )
        .unwrap()
    });

    for (format, url, req, make) in [
        (
            "openai",
            "https://api.openai.com/v1/chat/completions",
            OPENAI_REQ,
            openai_frames as fn(usize) -> Vec<Bytes>,
        ),
        (
            "anthropic",
            "https://api.anthropic.com/v1/messages",
            ANTHROPIC_REQ,
            anthropic_frames,
        ),
    ] {
        let mut group = c.benchmark_group(format!("per_chunk/{format}"));
        for n in [1usize, 64, 1024] {
            let frames = make(n);
            group.throughput(Throughput::Elements(n as u64));
            let request = || {
                http::Request::post(url)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(req.as_bytes())))
                    .unwrap()
            };
            let bare = provider(frames.clone());
            group.bench_function(BenchmarkId::new("bare", n), |b| {
                b.to_async(&rt).iter(|| async {
                    let resp = bare.clone().oneshot(request()).await.unwrap();
                    resp.into_body().collect().await.unwrap()
                })
            });
            let ours = ServiceBuilder::new()
                .layer(hl.layer())
                .service(provider(frames.clone()));
            group.bench_function(BenchmarkId::new("humanloop", n), |b| {
                b.to_async(&rt).iter(|| async {
                    let resp = ours.clone().oneshot(request()).await.unwrap();
                    resp.into_body().collect().await.unwrap()
                })
            });
        }
        group.finish();

        // The yardstick: parsing one chunk's JSON into a Value.
        let event = make(1).remove(if format == "openai" { 0 } else { 2 });
        let text = std::str::from_utf8(&event).unwrap();
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .unwrap()
            .as_bytes()
            .to_vec();
        c.bench_function(
            &format!("per_chunk/{format}/serde_json Value of one chunk"),
            |b| {
                b.iter(|| {
                    serde_json::from_slice::<serde_json::Value>(std::hint::black_box(&data))
                        .unwrap()
                })
            },
        );
    }
}

criterion_group!(benches, per_chunk);
criterion_main!(benches);
