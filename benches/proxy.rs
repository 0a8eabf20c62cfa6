//! Added latency of the tracing proxy: the same calls from reqwest straight to a loopback
//! hyper upstream, and through the proxy (its router served by axum on loopback) with
//! tracing off (the hop alone) and on (the hop plus the layer, an OpenTelemetry sink and
//! the hierarchy layer). One current-thread runtime runs client, proxy and upstream (a
//! multi-thread runtime is bimodal on 2 cores). Bodies are always drained.
//!
//! * `plain_2KB`: one chat completion, whole call;
//! * `stream_1` and `stream_64`: a stream of 1 or 64 content chunks (plus usage and
//!   `[DONE]`), whole call; the added time per chunk is
//!   `(Δ stream_64 − Δ stream_1) / 63`;
//! * `first_chunk_64`: from sending to the first chunk of a 64-chunk stream in hand, the
//!   upstream sending all 64 at once. Here the client runs on a thread of its own (its
//!   own current-thread runtime), the upstream and proxy on another, as a client in
//!   another process would: on one shared thread the client cannot read the first chunk,
//!   already written to its socket, until the proxy has forwarded the rest of the burst
//!   and the runtime polls its I/O driver again, which measures the runtime, not the
//!   proxy (that variant is kept as `first_chunk_64_same_thread`). The upstream has a
//!   thread of its own too: on the proxy's thread it writes its whole burst before the
//!   proxy can read the head. The report also gives the time to the response head of the
//!   same calls: what the proxy adds to the first chunk beyond what it adds to the head is
//!   the time the first chunk waits in the proxy.
//! * `plain_2KB_apart`: `plain_2KB` with the threads apart, the hop's cost in that set-up;
//!   `first_chunk_1`: the first chunk of a 1-chunk stream, threads apart.
//!
//! Run: `cargo bench --bench proxy`. After criterion's groups it prints interleaved
//! medians and the ratios the README reports.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::proxy::{Proxy, ProxyConfig};
use humanloop_tracing::{Config, Humanloop};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tokio::runtime::Runtime;
use tracing_subscriber::layer::SubscriberExt;

fn plain_body() -> Bytes {
    let content = "Lisbon in three days: Alfama, Belém, Sintra. ".repeat(38);
    Bytes::from(
        serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 410, "total_tokens": 429}
        })
        .to_string(),
    )
}

fn stream_frames(chunks: usize) -> Arc<Vec<Bytes>> {
    let mut frames: Vec<Bytes> = (0..chunks)
        .map(|i| Bytes::from(format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"finish_reason\":null}}]}}\n\n"
        )))
        .collect();
    frames.push(Bytes::from_static(b"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":64,\"total_tokens\":83}}\n\n"));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Arc::new(frames)
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// Plain JSON, or (body with `"stream":true`) as many chunks as header `x-chunks` says.
async fn start_upstream() -> SocketAddr {
    let (plain, one, many) = (plain_body(), stream_frames(1), stream_frames(64));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            let (plain, one, many) = (plain.clone(), one.clone(), many.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<Incoming>| {
                    let (plain, one, many) = (plain.clone(), one.clone(), many.clone());
                    async move {
                        let frames = if req.headers().get("x-chunks").is_some_and(|v| v == "1") {
                            one
                        } else {
                            many
                        };
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let resp = if body.windows(13).any(|w| w == b"\"stream\":true") {
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

const PLAIN_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512}"#;
const STREAM_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true}}"#;

/// A client target: name, base URL (`…/v1` direct, `…/up/v1` through a proxy), the
/// subscriber to run under.
struct Target {
    name: &'static str,
    base: String,
    dispatch: tracing::Dispatch,
}

#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Stream1,
    Stream64,
    FirstChunk64SameThread,
    FirstChunk64,
    PlainApart,
    FirstChunk1,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain_2KB",
            Kind::Stream1 => "stream_1",
            Kind::Stream64 => "stream_64",
            Kind::FirstChunk64SameThread => "first_chunk_64_same_thread",
            Kind::FirstChunk64 => "first_chunk_64",
            Kind::PlainApart => "plain_2KB_apart",
            Kind::FirstChunk1 => "first_chunk_1",
        }
    }
}

/// One call; answers the time measured (whole call, or up to the first chunk).
async fn call(http: &reqwest::Client, base: &str, kind: Kind) -> Duration {
    call_times(http, base, kind).await.0
}

/// One call; answers the time measured (as [`call`]) and the time to the response head.
async fn call_times(http: &reqwest::Client, base: &str, kind: Kind) -> (Duration, Duration) {
    let started = Instant::now();
    let (body, chunks) = match kind {
        Kind::Plain | Kind::PlainApart => (PLAIN_REQ, "64"),
        Kind::Stream1 | Kind::FirstChunk1 => (STREAM_REQ, "1"),
        Kind::Stream64 | Kind::FirstChunk64SameThread | Kind::FirstChunk64 => (STREAM_REQ, "64"),
    };
    let mut resp = http
        .post(format!("{base}/chat/completions"))
        .header("content-type", "application/json")
        .header("x-chunks", chunks)
        .body(body)
        .send()
        .await
        .unwrap();
    let to_head = started.elapsed();
    let first = resp.chunk().await.unwrap();
    let to_first = started.elapsed();
    std::hint::black_box(first);
    while let Some(c) = resp.chunk().await.unwrap() {
        std::hint::black_box(c);
    }
    let measured = match kind {
        Kind::FirstChunk64SameThread | Kind::FirstChunk64 | Kind::FirstChunk1 => to_first,
        _ => started.elapsed(),
    };
    (measured, to_head)
}

fn humanloop(enabled: bool) -> Humanloop {
    // Logs go to a closed port off the caller's path (the bounded queue drops overflow).
    Humanloop::new(
        Config::builder()
            .base_url("http://127.0.0.1:9/v4")
            .enabled(enabled)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn proxy_bench(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let upstream = rt.block_on(start_upstream());
    let (off, on) = (humanloop(false), humanloop(true));
    let serve = |hl: &Humanloop| rt.block_on(serve_proxy(hl, upstream));
    let (_provider, traced) = traced_dispatch(&on);
    let targets = [
        Target {
            name: "direct",
            base: format!("http://{upstream}/v1"),
            dispatch: tracing::Dispatch::none(),
        },
        Target {
            name: "proxy, tracing off",
            base: serve(&off),
            dispatch: tracing::Dispatch::none(),
        },
        Target {
            name: "proxy, traced (otel sink)",
            base: serve(&on),
            dispatch: traced,
        },
    ];
    // The same three, client, proxy and upstream each on a thread of its own (see
    // `first_chunk_64`).
    let upstream_apart = upstream_thread();
    let direct_apart = format!("http://{upstream_apart}/v1");
    let off_apart = proxy_thread(upstream_apart, false, false);
    let on_apart = proxy_thread(upstream_apart, true, true);
    let apart = [
        Target {
            name: "direct",
            base: direct_apart,
            dispatch: tracing::Dispatch::none(),
        },
        Target {
            name: "proxy, tracing off",
            base: off_apart,
            dispatch: tracing::Dispatch::none(),
        },
        Target {
            name: "proxy, traced (otel sink)",
            base: on_apart,
            dispatch: tracing::Dispatch::none(),
        },
    ];
    let http = reqwest::Client::new();
    let kinds = [
        Kind::Plain,
        Kind::Stream1,
        Kind::Stream64,
        Kind::FirstChunk64SameThread,
        Kind::FirstChunk64,
        Kind::PlainApart,
        Kind::FirstChunk1,
    ];
    let targets_for = |kind: Kind| match kind {
        Kind::FirstChunk64 | Kind::PlainApart | Kind::FirstChunk1 => &apart,
        _ => &targets,
    };
    for kind in kinds {
        let mut group = c.benchmark_group(format!("proxy/{}", kind.name()));
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(3));
        for t in targets_for(kind) {
            group.bench_function(t.name, |b| {
                let _guard = tracing::dispatcher::set_default(&t.dispatch);
                b.to_async(&rt).iter_custom(|iters| {
                    let (http, base) = (http.clone(), t.base.clone());
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += call(&http, &base, kind).await;
                        }
                        total
                    }
                })
            });
        }
        group.finish();
    }
    interleaved_report(&rt, &http, &targets_for, &kinds);
}

/// The proxy around `hl.layer()` for `upstream`, served by axum on loopback; its base URL.
async fn serve_proxy(hl: &Humanloop, upstream: SocketAddr) -> String {
    let proxy = Proxy::new(
        hl.layer(),
        ProxyConfig::new()
            .upstream(&format!("up=http://{upstream}/v1"))
            .unwrap(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // As the binary does: without TCP_NODELAY small SSE writes wait on delayed ACKs.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, proxy.router()).await });
    format!("http://{addr}/up/v1")
}

/// Spans to a sink through OpenTelemetry, and the hierarchy layer of `hl`.
fn traced_dispatch(hl: &Humanloop) -> (SdkTracerProvider, tracing::Dispatch) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Sink)
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
            .with(hl.tracing_layer()),
    );
    (provider, dispatch)
}

/// The upstream on a thread of its own, with its own current-thread runtime, as a server
/// in another process would be: sharing the proxy's thread, it writes its whole burst
/// before the proxy can read the head. Answers its address.
fn upstream_thread() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tx.send(start_upstream().await).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

/// A proxy in front of `upstream` (tracing on or off, spans recorded or not) on a thread
/// of its own, with its own current-thread runtime; answers its base URL.
fn proxy_thread(upstream: SocketAddr, enabled: bool, traced: bool) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let hl = humanloop(enabled);
        let (_provider, dispatch) = if traced {
            let (p, d) = traced_dispatch(&hl);
            (Some(p), d)
        } else {
            (None, tracing::Dispatch::none())
        };
        // The thread's default: every task this runtime polls records under it.
        let _guard = tracing::dispatcher::set_default(&dispatch);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tx.send(serve_proxy(&hl, upstream).await).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

/// Medians of rounds that alternate the targets call by call (drift hits all alike), and
/// the ratios against `direct`.
fn interleaved_report<'a>(
    rt: &Runtime,
    http: &reqwest::Client,
    targets_for: &dyn Fn(Kind) -> &'a [Target; 3],
    kinds: &[Kind],
) {
    const ROUNDS: usize = 400;
    println!("\ninterleaved medians over {ROUNDS} rounds (µs), ratio to direct:");
    let mut medians = std::collections::BTreeMap::new();
    for &kind in kinds {
        let targets = targets_for(kind);
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); targets.len()];
        let mut heads: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); targets.len()];
        for _ in 0..ROUNDS {
            for (i, t) in targets.iter().enumerate() {
                let _guard = tracing::dispatcher::set_default(&t.dispatch);
                let (measured, head) = rt.block_on(call_times(http, &t.base, kind));
                samples[i].push(measured);
                heads[i].push(head);
            }
        }
        let median = |v: &mut Vec<Duration>| -> Vec<f64> {
            v.sort();
            vec![v[v.len() / 2].as_secs_f64() * 1e6]
        };
        let med: Vec<f64> = samples.iter_mut().flat_map(median).collect();
        if matches!(kind, Kind::FirstChunk64) {
            // The head of the same calls: the first chunk's own wait in the proxy is what
            // the proxy adds to it beyond what it adds to the head.
            let head: Vec<f64> = heads.iter_mut().flat_map(median).collect();
            medians.insert("head_64", head);
        }
        let line: Vec<String> = targets
            .iter()
            .zip(&med)
            .map(|(t, m)| format!("{}: {m:.1} ({:.2}x)", t.name, m / med[0]))
            .collect();
        println!("  {:<15} {}", kind.name(), line.join(" | "));
        medians.insert(kind.name(), med);
    }
    for (i, t) in targets_for(Kind::Plain).iter().enumerate().skip(1) {
        let added = |k: &str| medians[k][i] - medians[k][0];
        println!(
            "  {}: added per call {:.1} µs (plain), added per chunk {:.2} µs, added to first chunk {:.1} µs (threads apart; {:.1} µs on one thread), of which to the response head {:.1} µs and the first chunk's own wait {:+.1} µs; a plain call, threads apart: {:.1} µs; the first chunk of a 1-chunk stream: {:.1} µs",
            t.name,
            added("plain_2KB"),
            (added("stream_64") - added("stream_1")) / 63.0,
            added("first_chunk_64"),
            added("first_chunk_64_same_thread"),
            added("head_64"),
            added("first_chunk_64") - added("head_64"),
            added("plain_2KB_apart"),
            added("first_chunk_1"),
        );
    }
}

criterion_group!(benches, proxy_bench);
criterion_main!(benches);
