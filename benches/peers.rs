//! The Python peers and this crate side by side: one loopback hyper server (a 2 KB chat
//! completion, a 64-chunk stream), driven in one run by bare reqwest, reqwest-tracing and
//! this crate (each with an OpenTelemetry layer exporting to a sink), then by the OpenAI
//! Python client bare, with OpenInference and with OpenLLMetry (`benches/peers/peers.py`,
//! one subprocess per variant, an OpenTelemetry SDK tracer with an in-memory exporter).
//! Each added time is against the same language's bare client measured in the same run.
//!
//! Run: `bash benches/peers/run.sh` (creates `target/venv-peers` with the peers from PyPI,
//! then runs `cargo bench --bench peers`). Without that virtual environment (or
//! `PEERS_PYTHON`), only the Rust rows are printed. `PEERS_CALLS` sets calls per variant.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::{Config, Humanloop};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;

const CHUNKS: usize = 64;
const PLAIN_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512}"#;
const STREAM_REQ: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a travel agent."},{"role":"user","content":"Plan three days in Lisbon."}],"temperature":0.7,"max_tokens":512,"stream":true,"stream_options":{"include_usage":true}}"#;

fn plain_body() -> Bytes {
    let content = "Lisbon in three days: Alfama, Belém, Sintra. ".repeat(38);
    Bytes::from(
        serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                         "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 410, "total_tokens": 429}
        })
        .to_string(),
    )
}

fn stream_frames() -> Arc<Vec<Bytes>> {
    let mut frames: Vec<Bytes> = (0..CHUNKS)
        .map(|i| Bytes::from(format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}},\"logprobs\":null,\"finish_reason\":{}}}]}}\n\n",
            if i + 1 == CHUNKS { "\"stop\"" } else { "null" }
        )))
        .collect();
    frames.push(Bytes::from_static(b"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":64,\"total_tokens\":83}}\n\n"));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Arc::new(frames)
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// The provider, on a thread and runtime of its own so it serves the Python processes too.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let (plain, frames) = (plain_body(), stream_frames());
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (plain, frames) = (plain.clone(), frames.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<Incoming>| {
                        let (plain, frames) = (plain.clone(), frames.clone());
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let streaming = body.windows(6).any(|w| w == b"stream")
                                && !body.windows(14).any(|w| w == b"\"stream\":false");
                            let resp = if streaming {
                                let frames = (0..frames.len()).map(move |i| {
                                    Ok::<_, Infallible>(Frame::data(frames[i].clone()))
                                });
                                hyper::Response::builder()
                                    .header("content-type", "text/event-stream")
                                    .body(BoxBody::new(StreamBody::new(
                                        futures_util::stream::iter(frames),
                                    )))
                            } else {
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(BoxBody::new(Full::new(plain)))
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
    });
    rx.recv().expect("server address")
}

#[derive(Debug)]
struct Sink;

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn otel(hl: Option<&Humanloop>) -> tracing::Dispatch {
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

/// Median per-call time (µs) of each Rust client for `body`, interleaved by rounds.
fn rust_medians(
    rt: &tokio::runtime::Runtime,
    url: &str,
    body: &'static str,
    cases: &[(
        &str,
        &reqwest_middleware::ClientWithMiddleware,
        &tracing::Dispatch,
    )],
    calls: usize,
) -> Vec<f64> {
    const ROUNDS: usize = 20;
    let per_round = calls.div_ceil(ROUNDS).max(1);
    let mut means = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, client, dispatch)) in cases.iter().enumerate() {
            let _guard = tracing::dispatcher::set_default(dispatch);
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..per_round {
                    let resp = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("loopback call");
                    std::hint::black_box(resp.bytes().await.expect("loopback body"));
                }
            });
            means[i].push(start.elapsed().as_secs_f64() * 1e6 / per_round as f64);
        }
    }
    means.into_iter().map(median).collect()
}

/// A table row: the client, its plain and streamed medians (or why there is none).
type Row = (String, Result<f64, String>, Result<f64, String>);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median per-call time (µs) of one Python variant, or why there is none.
fn python_median(
    python: &str,
    variant: &str,
    base_url: &str,
    stream: bool,
    calls: usize,
) -> Result<f64, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/peers.py");
    let mut cmd = Command::new(python);
    cmd.args([script, "--variant", variant, "--base-url", base_url])
        .args(["--calls", &calls.to_string()]);
    if stream {
        cmd.arg("--stream");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(last).map_err(|_| {
        let err = String::from_utf8_lossy(&out.stderr);
        format!("failed: {}", err.lines().last().unwrap_or("no output"))
    })?;
    v["median"]
        .as_f64()
        .map(|s| s * 1e6)
        .ok_or_else(|| "no median".to_owned())
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` lists benches: nothing to list here.
    }
    let calls: usize = std::env::var("PEERS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let addr = start_server();
    let url = format!("http://{addr}/v1/chat/completions");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let bare = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let with_tracing = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_tracing::TracingMiddleware::default())
        .build();
    // The endpoint is never reached within the run: logs queue for a closed port and the
    // exporter's worker handles them off the caller's path.
    let hl = Humanloop::new(
        Config::builder()
            .base_url("http://127.0.0.1:9/v4")
            .build()
            .expect("config"),
    )
    .expect("humanloop");
    let ours = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let (none, otel_plain, otel_ours) = (tracing::Dispatch::none(), otel(None), otel(Some(&hl)));
    let cases = [
        ("reqwest (bare)", &bare, &none),
        ("reqwest-tracing + OTel", &with_tracing, &otel_plain),
        ("humanloop-tracing + OTel", &ours, &otel_ours),
    ];
    let mut rows: Vec<Row> = Vec::new();
    let plain = rust_medians(&rt, &url, PLAIN_REQ, &cases, calls);
    let stream = rust_medians(&rt, &url, STREAM_REQ, &cases, calls);
    for (i, (name, _, _)) in cases.iter().enumerate() {
        rows.push(((*name).to_owned(), Ok(plain[i]), Ok(stream[i])));
    }

    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/venv-peers/bin/python");
    let python = std::env::var("PEERS_PYTHON").unwrap_or_else(|_| venv.to_owned());
    let base_url = format!("http://{addr}/v1");
    if std::path::Path::new(&python).exists() || std::env::var_os("PEERS_PYTHON").is_some() {
        for (variant, name) in [
            ("bare", "openai-python (bare)"),
            ("openinference", "OpenInference + OTel SDK"),
            ("openllmetry", "OpenLLMetry + OTel SDK"),
        ] {
            rows.push((
                name.to_owned(),
                python_median(&python, variant, &base_url, false, calls),
                python_median(&python, variant, &base_url, true, calls),
            ));
        }
    } else {
        eprintln!("peers: no Python peers ({python} not found): run benches/peers/run.sh");
    }

    println!(
        "\npeers: per call, median; added = against the same language's bare client, same run ({calls} calls per variant)"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>11} {:>10}",
        "client", "plain", "added", "stream 64", "added"
    );
    let mut base = (0.0, 0.0);
    for (name, p, s) in &rows {
        if name.contains("(bare)") {
            base = (*p.as_ref().unwrap_or(&0.0), *s.as_ref().unwrap_or(&0.0));
        }
        let cell = |r: &Result<f64, String>, b: f64| match r {
            Ok(v) => (format!("{v:.1}us"), format!("{:+.1}us", v - b)),
            Err(e) => (e.clone(), String::new()),
        };
        let ((pv, pa), (sv, sa)) = (cell(p, base.0), cell(s, base.1));
        println!("{name:<28} {pv:>10} {pa:>10} {sv:>11} {sa:>10}");
    }
}
