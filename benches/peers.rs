//! The Python peers and this crate side by side: one loopback hyper server (a 2 KB chat
//! completion, a 64-chunk stream), driven in one run by bare reqwest, reqwest-tracing and
//! this crate (each with an OpenTelemetry layer exporting to a sink), then by the OpenAI
//! Python client bare, with OpenInference and with OpenLLMetry (`benches/peers/peers.py`,
//! one subprocess per variant and round, an OpenTelemetry SDK tracer with an in-memory
//! exporter). Each added time is against the same language's bare client measured in the
//! same run.
//!
//! Both languages are interleaved by rounds, each round starting one variant later, so
//! that load drifting on the machine hits every variant alike. The server and the Rust
//! clients share one current-thread runtime, as in `overhead` (a client on a runtime of
//! its own pays a cross-thread wake-up per call, which tripled a bare call's time and made
//! the table move between runs); the runtime keeps serving while a Python round runs.
//!
//! Run: `bash benches/peers/run.sh` (creates `target/venv-peers` with the peers from PyPI,
//! then runs `cargo bench --bench peers`). Without that virtual environment (or
//! `PEERS_PYTHON`), only the Rust rows are printed. `PEERS_CALLS` sets calls per variant
//! (split over the rounds), `PEERS_ROUNDS` the rounds of the Python variants (5).

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::{Case, PLAIN_REQ, STREAM_REQ};

/// The provider, on `rt` (the Rust clients' runtime): it serves while `rt` is driven, by
/// the Rust rounds and while a Python round is waited for ([`python_round`]). It streams
/// whenever a body names `stream` and does not set it false, whatever spacing the Python
/// client's JSON encoder writes.
fn start_server(rt: &tokio::runtime::Runtime) -> SocketAddr {
    let frames = common::stream_frames(64);
    rt.block_on(common::start_provider(
        common::plain_body(),
        move |_, body| {
            let streaming = body.windows(6).any(|w| w == b"stream")
                && !body.windows(14).any(|w| w == b"\"stream\":false");
            streaming.then(|| frames.clone())
        },
    ))
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

/// Median per-call time (µs) of one round of one Python variant, or why there is none.
/// The variant's process is waited for on the blocking pool while `rt` serves it.
fn python_round(
    rt: &tokio::runtime::Runtime,
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
    let out = rt
        .block_on(rt.spawn_blocking(move || cmd.output()))
        .map_err(|e| format!("cannot wait for {python}: {e}"))?
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

/// Each Python variant's median of its round medians, plain then streamed: `rounds`
/// rounds, each running every variant in turn (one process each), starting one later.
fn python_medians(
    rt: &tokio::runtime::Runtime,
    python: &str,
    variants: &[&str],
    base_url: &str,
    calls: usize,
    rounds: usize,
) -> Vec<(Result<f64, String>, Result<f64, String>)> {
    let per_round = calls.div_ceil(rounds).max(1);
    let medians = |stream: bool| {
        let mut medians: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); variants.len()];
        for round in 0..rounds {
            for k in 0..variants.len() {
                let i = (round + k) % variants.len();
                let Ok(done) = &mut medians[i] else { continue };
                match python_round(rt, python, variants[i], base_url, stream, per_round) {
                    Ok(m) => done.push(m),
                    Err(e) => medians[i] = Err(e),
                }
            }
        }
        medians.into_iter().map(|m| m.map(common::median))
    };
    medians(false).zip(medians(true)).collect()
}

fn main() {
    if common::no_report() {
        return; // `cargo test --benches` lists benches: nothing to list here.
    }
    let calls: usize = std::env::var("PEERS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = common::runtime();
    let addr = start_server(&rt);
    let url = format!("http://{addr}/v1/chat/completions");

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
        let rounds: usize = std::env::var("PEERS_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let variants = [
            ("bare", "openai-python (bare)"),
            ("openinference", "OpenInference + OTel SDK"),
            ("openllmetry", "OpenLLMetry + OTel SDK"),
        ];
        let names: Vec<&str> = variants.iter().map(|(v, _)| *v).collect();
        let medians = python_medians(&rt, &python, &names, &base_url, calls, rounds.max(1));
        for ((_, name), (plain, streamed)) in variants.iter().zip(medians) {
            rows.push(((*name).to_owned(), plain, streamed));
        }
    } else {
        eprintln!("peers: no Python peers ({python} not found): run benches/peers/run.sh");
    }

    println!(
        "\npeers: per call, median; added = against the same language's bare client, same run ({calls} calls per variant, interleaved by rounds)"
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
