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

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::{Case, PLAIN_REQ, STREAM_REQ};

/// The provider, on a thread and runtime of its own so it serves the Python processes too.
/// It streams whenever a body names `stream` and does not set it false, whatever spacing
/// the Python client's JSON encoder writes.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        common::runtime().block_on(async move {
            let frames = common::stream_frames(64);
            let addr = common::start_provider(common::plain_body(), move |_, body| {
                let streaming = body.windows(6).any(|w| w == b"stream")
                    && !body.windows(14).any(|w| w == b"\"stream\":false");
                streaming.then(|| frames.clone())
            })
            .await;
            tx.send(addr).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().expect("server address")
}

/// Median per-call time (µs) of each Rust client for `body`, interleaved by rounds.
fn rust_medians(
    rt: &tokio::runtime::Runtime,
    url: &str,
    body: &'static str,
    cases: &[Case<'_>],
    calls: usize,
) -> Vec<f64> {
    const ROUNDS: usize = 20;
    let per_round = u32::try_from(calls.div_ceil(ROUNDS).max(1)).expect("PEERS_CALLS");
    common::interleaved_medians(rt, url, cases, body, ROUNDS, per_round)
}

/// A table row: the client, its plain and streamed medians (or why there is none).
type Row = (String, Result<f64, String>, Result<f64, String>);

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
    if common::no_report() {
        return; // `cargo test --benches` lists benches: nothing to list here.
    }
    let calls: usize = std::env::var("PEERS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let addr = start_server();
    let url = format!("http://{addr}/v1/chat/completions");
    let rt = common::runtime();

    let bare = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let with_tracing = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_tracing::TracingMiddleware::default())
        .build();
    // Logs go to the loopback log sink, shipped by the exporter's worker off the caller's
    // path.
    let hl = common::humanloop(|c| c);
    let ours = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let (none, otel_plain, otel_ours) = (
        tracing::Dispatch::none(),
        common::otel_subscriber(None),
        common::otel_subscriber(Some(&hl)),
    );
    let cases: [Case<'_>; 3] = [
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
