//! Exporter throughput: logs per second from `Humanloop::log` (enqueue) to the local
//! endpoint's 200 (committed in SQLite), with batches of 1, 64 and 512 logs per request.
//! Each iteration enqueues a burst and waits for `flush`, so the time covers enqueue,
//! batching, serialisation, HTTP on loopback and the endpoint's insert.
//!
//! Run: `cargo bench --bench exporter`.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use humanloop_tracing::api::{ChatMessage, LogRequest, ModelConfig};
use humanloop_tracing::{Config, Humanloop};

fn sample_log(i: u64) -> LogRequest {
    LogRequest::default()
        .with_project("bench")
        .with_reference_id(format!("bench-{i}"))
        .with_config(
            ModelConfig::new("gpt-4o-mini")
                .with_provider("openai")
                .with_temperature(0.7),
        )
        .with_messages(vec![
            ChatMessage::system("You are a travel agent."),
            ChatMessage::user("Plan three days in Lisbon."),
        ])
        .with_output("Day 1: Alfama. Day 2: Belém. Day 3: Sintra.")
        .with_prompt_tokens(19)
        .with_output_tokens(14)
        .with_duration(0.42)
}

fn exporter(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = common::multi_thread_runtime(1);
    let (_dir, endpoint) = common::local_endpoint(&rt, "bench.db");

    let mut group = c.benchmark_group("exporter");
    group.sample_size(10);
    let mut next = 0u64;
    for batch in [1usize, 64, 512] {
        let burst: u64 = if batch == 1 { 256 } else { 4096 };
        let hl = Humanloop::new(
            Config::builder()
                .base_url(endpoint.base_url())
                .max_batch_size(batch)
                .max_queue_size(8192)
                .schedule_delay(Duration::from_millis(1))
                .build()
                .unwrap(),
        )
        .unwrap();
        group.throughput(Throughput::Elements(burst));
        group.bench_function(
            BenchmarkId::new("logs to the local endpoint, batch", batch),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let logs: Vec<LogRequest> = (0..burst)
                            .map(|_| {
                                next += 1;
                                sample_log(next)
                            })
                            .collect();
                        let start = Instant::now();
                        for log in logs {
                            assert!(hl.log(log), "queue overflow in the bench");
                        }
                        hl.flush_blocking(Duration::from_secs(120)).unwrap();
                        total += start.elapsed();
                    }
                    total
                })
            },
        );
        let stats = hl.stats();
        assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
        hl.shutdown_blocking(Duration::from_secs(10)).unwrap();
    }
    group.finish();
    rt.block_on(endpoint.shutdown()).unwrap();
}

criterion_group!(benches, exporter);
criterion_main!(benches);
