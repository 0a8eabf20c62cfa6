//! Overhead on the caller's path: the same calls through bare clients and through the
//! middleware, against a loopback hyper server, on one current-thread runtime that runs
//! both client and server (a multi-thread runtime is bimodal on 2 cores). Bodies are
//! always drained.
//!
//! Run: `cargo bench --bench overhead`. The README's "Performance" section reports the
//! medians of one run as ratios against `bare reqwest` measured in the same run.

mod common;

use bytes::Bytes;
use common::{call, humanloop, Case, PLAIN_REQ, STREAM_REQ};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http_body_util::{BodyExt, Full};
use humanloop_tracing::Humanloop;
use hyper_util::rt::TokioExecutor;
use tokio::runtime::Runtime;

fn overhead(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = common::runtime();
    let frames = common::stream_frames(64);
    let addr = rt.block_on(common::start_provider(
        common::plain_body(),
        move |_, body| common::asks_stream(body).then(|| frames.clone()),
    ));
    let url = format!("http://{addr}/v1/chat/completions");

    let bare = reqwest::Client::new();
    let mw_none = reqwest_middleware::ClientBuilder::new(bare.clone()).build();
    let mw_tracing = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(reqwest_tracing::TracingMiddleware::default())
        .build();
    let hl = humanloop(|c| c.capture_content(false));
    let hl_content = humanloop(|c| c.capture_content(true));
    let ours = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(hl.middleware())
        .build();
    let ours_content = reqwest_middleware::ClientBuilder::new(bare.clone())
        .with(hl_content.middleware())
        .build();

    let no_subscriber = tracing::Dispatch::none();
    let otel = common::otel_subscriber(None);
    let otel_hl = common::otel_subscriber(Some(&hl));
    let otel_hl_content = common::otel_subscriber(Some(&hl_content));

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
        profile(&rt, &url, &cases, &[&hl, &hl_content], &spec);
    }
    for (kind, body) in [("plain_2KB", PLAIN_REQ), ("stream_64", STREAM_REQ)] {
        let mut group = c.benchmark_group(format!("overhead/reqwest/{kind}"));
        group.bench_function("bare reqwest", |b| {
            b.to_async(&rt).iter(|| async {
                let resp = bare.execute(common::chat_request(&url, body)).await;
                resp.unwrap().bytes().await.unwrap()
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
    if common::no_report() {
        return;
    }
    const ROUNDS: usize = 24;
    const CALLS: u32 = 250;
    let medians = common::interleaved_medians(rt, url, cases, body, ROUNDS, CALLS);
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
fn profile(rt: &Runtime, url: &str, cases: &[Case<'_>], hls: &[&Humanloop], spec: &str) -> ! {
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
    for hl in hls {
        // Every log shipped (none dropped): the exporter ran as against a live endpoint.
        rt.block_on(hl.flush(std::time::Duration::from_secs(10)))
            .expect("logs delivered");
        eprintln!("{:?}", hl.stats());
    }
    std::process::exit(0);
}

criterion_group!(benches, overhead);
criterion_main!(benches);
