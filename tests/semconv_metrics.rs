//! The GenAI client metrics under both profiles, read back through the SDK's in-memory
//! exporter: v1.41's `gen_ai.client.operation.*` histograms and `gen_ai.client.token.usage`
//! by `gen_ai.token.type`; v0.1's `gen_ai.client.inference.*` histograms and usage
//! counters. Each profile emits its names only, and every name is in `semconv::TABLE`.

#[path = "it/capture_support/mod.rs"]
mod capture_support;

use std::collections::BTreeSet;

use capture_support::*;
use humanloop_tracing::semconv::{Kind, Profile, TABLE};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// Names of the metrics exported since `exporter` was last reset, with the sum of a u64
/// counter's points where the metric is one.
fn exported(exporter: &InMemoryMetricExporter) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for rm in exporter.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let sum = match m.data() {
                    AggregatedMetrics::U64(MetricData::Sum(s)) => {
                        Some(s.data_points().map(|p| p.value()).sum())
                    }
                    _ => None,
                };
                out.push((m.name().to_owned(), sum));
            }
        }
    }
    out
}

async fn one_stream_and_one_cached_call(profile: Profile) {
    let _otel = otel();
    let server = provider().await;
    let sink = log_sink().await;
    let hl = humanloop(&sink, |b| b.semconv_profile(profile));
    send(
        Adapter::Reqwest,
        &hl,
        Req::post(
            server.url("/v1/messages"),
            r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[]}"#,
        )
        .header("x-fixture", "anthropic/message_cache_usage.json"),
    )
    .await;
    send(
        Adapter::Tower,
        &hl,
        Req::post(
            server.url("/v1/chat/completions"),
            r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
        )
        .header("x-fixture", "openai/chat_stream_include_usage.sse")
        .header("x-chunk", "40"),
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn each_profile_emits_its_own_metric_names() {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(meters.clone());

    for profile in [Profile::V1_41, Profile::GenAiV0_1] {
        exporter.reset();
        one_stream_and_one_cached_call(profile).await;
        meters.force_flush().unwrap();
        let got = exported(&exporter);
        // Cumulative temporality: instruments created earlier in this process (the
        // v1.41 ones, for the v0.1 round) are still exported.
        let names: BTreeSet<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        let listed: BTreeSet<&str> = TABLE
            .iter()
            .filter(|n| n.kind == Kind::Metric)
            .filter_map(|n| profile.name(n))
            .collect();
        if profile == Profile::V1_41 {
            // First in this process: nothing else was ever created.
            assert_eq!(names, listed, "{profile:?}");
        }
        for name in &listed {
            assert!(
                names.contains(name),
                "{profile:?}: {name} not exported: {names:?}"
            );
        }
        if profile == Profile::GenAiV0_1 {
            let sum = |name: &str| {
                got.iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, s)| *s)
                    .unwrap_or_else(|| panic!("{name} is not a counter: {got:?}"))
            };
            // Anthropic: 21 + 1024 cached + 188086 written (input includes both).
            assert_eq!(
                sum("gen_ai.client.inference.usage.cache_write.input_tokens"),
                188086
            );
            assert_eq!(
                sum("gen_ai.client.inference.usage.cache_read.input_tokens"),
                1024
            );
            assert!(sum("gen_ai.client.inference.usage.input_tokens") >= 21 + 1024 + 188086);
            assert!(sum("gen_ai.client.inference.usage.output_tokens") >= 393);
        } else {
            let usage = points(&exporter, "gen_ai.client.token.usage");
            assert!(usage
                .iter()
                .any(|(a, ..)| get(a, "gen_ai.token.type").as_deref() == Some("input")));
            assert!(!names
                .iter()
                .any(|n| n.starts_with("gen_ai.client.inference.")));
        }
    }
}
