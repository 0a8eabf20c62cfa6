//! What the benches share (`mod common;`): the chat requests, a loopback hyper provider
//! answering them, an OpenTelemetry sink, a `Humanloop` that ships to a loopback log sink, the
//! interleaved medians, the runtimes, and the crate's own endpoint on a SQLite file.
#![allow(dead_code)] // each bench uses a part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::server::{self, ServerConfig, ServerHandle};
use humanloop_tracing::{Config, ConfigBuilder, Humanloop};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tokio::runtime::Runtime;
use tracing_subscriber::layer::SubscriberExt;

pub const PLAIN_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512}"#;
pub const STREAM_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true}}"#;

/// A 2 KB OpenAI chat completion.
pub fn plain_body() -> Bytes {
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

/// An OpenAI chat stream of `chunks` content chunks (then a usage chunk and `[DONE]`),
/// one SSE event per frame.
pub fn stream_frames(chunks: usize) -> Arc<Vec<Bytes>> {
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

/// Whether a request body asks for a stream, as our clients write it (`"stream":true`).
pub fn asks_stream(body: &[u8]) -> bool {
    body.windows(13).any(|w| w == b"\"stream\":true")
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A loopback provider on the current runtime: each request gets the frames `stream_for`
/// picks from its headers and body, one frame at a time, or else `plain` as JSON. Every
/// connection has TCP_NODELAY: without it each SSE frame waits for the client's delayed
/// ACK (Nagle), and the 64-chunk stream took 44 ms for every client and measured nothing
/// else.
pub async fn start_provider<F>(plain: Bytes, stream_for: F) -> SocketAddr
where
    F: Fn(&http::HeaderMap, &[u8]) -> Option<Arc<Vec<Bytes>>> + Clone + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (plain, stream_for) = (plain.clone(), stream_for.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<Incoming>| {
                    let (plain, stream_for) = (plain.clone(), stream_for.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let resp = match stream_for(&parts.headers, &body) {
                            Some(frames) => {
                                let iter = (0..frames.len()).map(move |i| {
                                    Ok::<_, Infallible>(Frame::data(frames[i].clone()))
                                });
                                hyper::Response::builder()
                                    .header("content-type", "text/event-stream")
                                    .body(BoxBody::new(StreamBody::new(
                                        futures_util::stream::iter(iter),
                                    )))
                            }
                            None => hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(BoxBody::new(Full::new(plain))),
                        };
                        Ok::<_, Infallible>(resp.unwrap())
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

/// The OpenTelemetry exporter of the benches: takes each batch and drops it.
#[derive(Debug)]
pub struct Sink;

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

/// Spans to [`Sink`] through tracing-opentelemetry, with `hl`'s hierarchy layer if given.
pub fn otel_subscriber(hl: Option<&Humanloop>) -> tracing::Dispatch {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(Sink)
        .build();
    let registry = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    match hl {
        Some(hl) => tracing::Dispatch::new(registry.with(hl.tracing_layer())),
        None => tracing::Dispatch::new(registry),
    }
}

/// A `Humanloop` configured by `configure` that ships its logs to [`log_sink`]: an
/// endpoint that is up, as in use. (Shipping to a closed port, as these benches once did,
/// measured the exporter's outage path: the queue full, every record dropped by the
/// thread that completed it.)
pub fn humanloop(configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Humanloop {
    let config = configure(Config::builder().base_url(format!("http://{}/v4", log_sink())))
        .build()
        .unwrap();
    let hl = Humanloop::new(config).unwrap();
    CREATED.lock().unwrap().push(hl.clone());
    hl
}

/// Every `Humanloop` [`humanloop`] made: [`interleaved_medians`] waits for their finishers
/// at the end of each batch, so that a case's streams are completed in its own time.
static CREATED: std::sync::Mutex<Vec<Humanloop>> = std::sync::Mutex::new(Vec::new());

/// Wait until every call of every `Humanloop` [`humanloop`] made is completed.
pub fn flush_spans() {
    for hl in CREATED.lock().unwrap().iter() {
        hl.flush_spans();
    }
}

/// A loopback log endpoint on a thread and runtime of its own, shared by the benches of
/// one process: it reads each request's body to the end and answers `[]` (the exporter
/// reads no ids from a batch's answer), so that the exporter ships as to a live endpoint
/// at little cost to the machine.
pub fn log_sink() -> SocketAddr {
    static ADDR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    *ADDR.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        std::thread::Builder::new()
            .name("bench-log-sink".into())
            .spawn(move || {
                runtime().block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(async move {
                            let svc = service_fn(|req: hyper::Request<Incoming>| async move {
                                let _ = req.into_body().collect().await;
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from_static(b"[]")))
                            });
                            let _ =
                                hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                        });
                    }
                })
            })
            .unwrap();
        addr
    })
}

/// The runtime of the benches: one current thread (a multi-thread runtime is bimodal on
/// 2 cores).
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A runtime of `workers` threads, for the benches of the endpoint (exporter, UI pages).
pub fn multi_thread_runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// The crate's own endpoint on `rt`, on the SQLite file `db` in a fresh temporary
/// directory that lives as long as the returned guard.
pub fn local_endpoint(rt: &Runtime, db: &str) -> (tempfile::TempDir, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::with_db(dir.path().join(db));
    let endpoint = rt.block_on(server::spawn(config, "127.0.0.1:0".parse().unwrap()));
    (dir, endpoint.unwrap())
}

/// A client compared in the reqwest tables: its name, the client, the subscriber.
pub type Case<'a> = (
    &'a str,
    &'a reqwest_middleware::ClientWithMiddleware,
    &'a tracing::Dispatch,
);

/// The chat request of the benches: `body` posted to `url` as JSON.
pub fn chat_request(url: &str, body: &'static str) -> reqwest::Request {
    let mut req = reqwest::Request::new(reqwest::Method::POST, url.parse().unwrap());
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    *req.body_mut() = Some(body.into());
    req
}

/// One chat call through `client`, its body drained.
pub async fn call(
    client: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    body: &'static str,
) -> Bytes {
    let resp = client.execute(chat_request(url, body)).await.unwrap();
    resp.bytes().await.unwrap()
}

/// Whether the bench binary was started only to list or test its benches, or to profile
/// them (`cargo test --benches`, `--list`, `--profile-time`): then it prints no report.
pub fn no_report() -> bool {
    std::env::args().any(|a| a == "--list" || a == "--test" || a == "--profile-time")
}

/// Each case's median per-call time (µs) for `body`: `rounds` rounds, each running
/// `calls` calls per case in turn, so that load drifting on a shared machine hits every
/// case alike. Batches long enough that the work a case leaves to background threads
/// (the exporter's shipping) spills little into the next case's time.
pub fn interleaved_medians(
    rt: &Runtime,
    url: &str,
    cases: &[Case<'_>],
    body: &'static str,
    rounds: usize,
    calls: u32,
) -> Vec<f64> {
    let mut means: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); cases.len()];
    for round in 0..rounds {
        // Each round starts one case later: the first case of a round also pays for what
        // the round before left behind (the exporter shipping ours' logs), and rotating
        // spreads that over every case instead of the baseline's.
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let (_, client, dispatch) = &cases[i];
            let _guard = tracing::dispatcher::set_default(dispatch);
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..calls {
                    std::hint::black_box(call(client, url, body).await);
                }
            });
            // Every case waits alike (for nothing but ours' finisher): a stream's completion
            // is counted in its case's batch, not in the next case's.
            flush_spans();
            means[i].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(calls));
        }
    }
    means.into_iter().map(median).collect()
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
