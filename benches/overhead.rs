//! Overhead on the caller's path: the same calls through bare clients and through the
//! middleware, against a loopback hyper server, on one current-thread runtime that runs
//! both client and server (a multi-thread runtime is bimodal on 2 cores). Bodies are
//! always drained.
//!
//! Run: `cargo bench --bench overhead`. The README's "Performance" section reports the
//! medians of one run as ratios against `bare reqwest` measured in the same run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::{Config, Humanloop};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tokio::runtime::Runtime;
use tracing_subscriber::layer::SubscriberExt;

/// A 2 KB OpenAI chat completion.
fn plain_body() -> Bytes {
    let content = "Lisbon in three days: Alfama, Belém, Sintra. ".repeat(38);
    Bytes::from(
        serde_json::json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 19, "completion_tokens": 410, "total_tokens": 429,
                      "prompt_tokens_details": {"cached_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0}}
        })
        .to_string(),
    )
}

/// A 64-chunk OpenAI chat stream (with a final usage chunk), one SSE event per frame.
fn stream_frames(chunks: usize) -> Arc<Vec<Bytes>> {
    let mut frames = Vec::with_capacity(chunks + 2);
    for i in 0..chunks {
        frames.push(Bytes::from(format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_44709d6fcb\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\n\n"
        )));
    }
    frames.push(Bytes::from_static(b"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":64,\"total_tokens\":83}}\n\n"));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Arc::new(frames)
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn start_server(plain: Bytes, frames: Arc<Vec<Bytes>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            // Without it each SSE frame waits for the client's delayed ACK (Nagle): the
            // 64-chunk stream took 44 ms for every client and measured nothing else.
            stream.set_nodelay(true).unwrap();
            let plain = plain.clone();
            let frames = frames.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<Incoming>| {
                    let plain = plain.clone();
                    let frames = frames.clone();
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let streaming = body.windows(13).any(|w| w == b"\"stream\":true");
                        let resp = if streaming {
                            let iter = (0..frames.len())
                                .map(move |i| Ok::<_, Infallible>(Frame::data(frames[i].clone())));
                            hyper::Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(BoxBody::new(StreamBody::new(futures_util::stream::iter(
                                    iter,
                                ))))
                                .unwrap()
                        } else {
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(BoxBody::new(Full::new(plain)))
                                .unwrap()
                        };
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[derive(Debug)]
struct Sink;

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn otel_subscriber(hl: Option<&Humanloop>) -> tracing::Dispatch {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Sink)
        .build();
    let tracer = provider.tracer("bench");
    let registry =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    match hl {
        Some(hl) => tracing::Dispatch::new(registry.with(hl.tracing_layer())),
        None => tracing::Dispatch::new(registry),
    }
}

const PLAIN_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512}"#;
const STREAM_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true}}"#;

/// A client compared in the reqwest groups: its name, the client, the subscriber.
type Case<'a> = (
    &'a str,
    &'a reqwest_middleware::ClientWithMiddleware,
    &'a tracing::Dispatch,
);

/// One chat call through `client`, its body drained.
async fn call(
    client: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    body: &'static str,
) -> Bytes {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    resp.bytes().await.unwrap()
}

fn humanloop(capture_content: bool) -> Humanloop {
    // The endpoint is never reached within a bench iteration: logs are queued and the
    // exporter's worker ships them off the caller's path (to a closed port here; the
    // bounded queue drops the overflow and counts it).
    Humanloop::new(
        Config::builder()
            .base_url("http://127.0.0.1:9/v4")
            .capture_content(capture_content)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn overhead(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(start_server(plain_body(), stream_frames(64)));
    let url = format!("http://{addr}/v1/chat/completions");

    let bare = reqwest::Client::new();
    let mw_none = reqwest_middleware::ClientBuilder::new(bare.clone()).build();
    let mw_tracing = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(reqwest_tracing::TracingMiddleware::default())
        .build();
    let hl = humanloop(false);
    let hl_content = humanloop(true);
    let ours = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(hl.middleware())
        .build();
    let ours_content = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(hl_content.middleware())
        .build();

    let no_subscriber = tracing::Dispatch::none();
    let otel = otel_subscriber(None);
    let otel_hl = otel_subscriber(Some(&hl));
    let otel_hl_content = otel_subscriber(Some(&hl_content));

    // Every middleware compared runs inside reqwest-middleware: the first case is the
    // baseline of the interleaved table.
    let cases: [Case<'_>; 7] = [
        ("reqwest-middleware, none", &mw_none, &no_subscriber),
        (
            "reqwest-tracing, no subscriber",
            &mw_tracing,
            &no_subscriber,
        ),
        ("reqwest-tracing, otel sink", &mw_tracing, &otel),
        ("humanloop, no subscriber", &ours, &no_subscriber),
        ("humanloop, otel sink", &ours, &otel_hl),
        (
            "humanloop, otel sink, capture_content",
            &ours_content,
            &otel_hl_content,
        ),
        ("reqwest-middleware, none, otel sink", &mw_none, &otel),
    ];
    if let Ok(spec) = std::env::var("OVERHEAD_PROFILE") {
        profile(&rt, &url, &cases, &spec);
    }
    for (kind, body) in [("plain_2KB", PLAIN_REQ), ("stream_64", STREAM_REQ)] {
        let mut group = c.benchmark_group(format!("overhead/reqwest/{kind}"));
        group.bench_function("bare reqwest", |b| {
            b.to_async(&rt).iter(|| async {
                let resp = bare
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                resp.bytes().await.unwrap()
            })
        });
        for (name, client, dispatch) in cases {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                let _guard = tracing::dispatcher::set_default(dispatch);
                b.to_async(&rt).iter(|| call(client, &url, body))
            });
        }
        group.finish();
    }
    interleaved_report(&rt, &url, &cases, "plain_2KB", PLAIN_REQ);
    interleaved_report(&rt, &url, &cases, "stream_64", STREAM_REQ);

    // hyper-util's client in a tower ServiceBuilder, bare and with our layer.
    let hyper_client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
    let layered = tower::ServiceBuilder::new()
        .layer(hl.layer())
        .service(hyper_client.clone());
    for (kind, body) in [("plain_2KB", PLAIN_REQ), ("stream_64", STREAM_REQ)] {
        let mut group = c.benchmark_group(format!("overhead/hyper/{kind}"));
        let request = || {
            hyper::Request::post(url.as_str())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap()
        };
        group.bench_function("bare hyper-util", |b| {
            b.to_async(&rt).iter(|| async {
                let resp = hyper_client.request(request()).await.unwrap();
                resp.into_body().collect().await.unwrap().to_bytes()
            })
        });
        group.bench_function("humanloop layer, no subscriber", |b| {
            use tower::ServiceExt;
            b.to_async(&rt).iter(|| async {
                let resp = layered.clone().oneshot(request()).await.unwrap();
                resp.into_body().collect().await.unwrap().to_bytes()
            })
        });
        group.finish();
    }
}

/// The plain call again, the clients interleaved: each round runs a batch of calls per
/// client in turn, and the table gives each client's median batch mean. Criterion runs
/// one client after the other, so on a machine whose load drifts (a shared CI box) its
/// medians compare runs made under different load; interleaving keeps the added times
/// comparable.
fn interleaved_report(rt: &Runtime, url: &str, cases: &[Case<'_>], kind: &str, body: &'static str) {
    let args: Vec<String> = std::env::args().collect();
    if args
        .iter()
        .any(|a| a == "--list" || a == "--test" || a == "--profile-time")
    {
        return;
    }
    const ROUNDS: usize = 60;
    const CALLS: u32 = 50;
    let mut means: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, client, dispatch)) in cases.iter().enumerate() {
            let _guard = tracing::dispatcher::set_default(dispatch);
            let start = std::time::Instant::now();
            rt.block_on(async {
                for _ in 0..CALLS {
                    std::hint::black_box(call(client, url, body).await);
                }
            });
            means[i].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = means.iter_mut().map(median).collect();
    println!(
        "\noverhead/reqwest/{kind} interleaved (median of {ROUNDS} rounds of {CALLS} calls per client):"
    );
    println!("{:<40} {:>10} {:>12}", "client", "per call", "added");
    for ((name, _, _), m) in cases.iter().zip(&medians) {
        println!("{name:<40} {m:>8.1}us {:>+10.1}us", m - medians[0]);
    }
}

/// `OVERHEAD_PROFILE=<case>,<plain|stream>,<calls>`: run `calls` calls of one case (its
/// index in the reqwest table) after a warm-up of 100, then exit, for a profiler:
/// `valgrind --tool=callgrind --separate-threads=yes` with two call counts, whose
/// difference on the runtime's thread divided by the difference in calls is the cost of
/// one call on the caller's thread (client and loopback server share it).
fn profile(rt: &Runtime, url: &str, cases: &[Case<'_>], spec: &str) -> ! {
    let mut it = spec.split(',');
    let case: usize = it.next().and_then(|s| s.parse().ok()).expect("case index");
    let body = match it.next() {
        Some("stream") => STREAM_REQ,
        _ => PLAIN_REQ,
    };
    let calls: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let (name, client, dispatch) = cases[case];
    let _guard = tracing::dispatcher::set_default(dispatch);
    rt.block_on(async {
        for _ in 0..100 + calls {
            std::hint::black_box(call(client, url, body).await);
        }
    });
    eprintln!("profiled {calls} calls of {name}");
    std::process::exit(0);
}

criterion_group!(benches, overhead);
criterion_main!(benches);
