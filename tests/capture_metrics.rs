//! The GenAI client metrics, read back through the OpenTelemetry SDK's in-memory metric
//! exporter: token usage by type, duration (with `error.type` on failure), time to first
//! chunk and time per output chunk for streams, with the conventions' buckets.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::{adapters::*, endpoint::*, otel::*, provider::*};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

#[tokio::test(flavor = "current_thread")]
async fn genai_client_metrics_are_recorded() {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    // Before the first call: the instruments are created once, from this provider.
    opentelemetry::global::set_meter_provider(meters.clone());

    let _otel = otel();
    let server = provider().await;
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let chat = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}"#;
    // 1. OpenAI, whole body. 2. Anthropic stream. 3. A 401.
    send(
        Adapter::Reqwest,
        &hl,
        Req::post(server.url("/v1/chat/completions"), chat)
            .header("x-fixture", "openai/chat_basic.json"),
    )
    .await;
    send(
        Adapter::Tower,
        &hl,
        Req::post(
            server.url("/v1/messages"),
            r#"{"model":"claude-opus-4-1","stream":true,"max_tokens":9,"messages":[]}"#,
        )
        .header("x-fixture", "anthropic/stream_basic.sse")
        .header("x-chunk", "40"),
    )
    .await;
    send(
        Adapter::Reqwest,
        &hl,
        Req::post(server.url("/v1/chat/completions"), chat)
            .header("x-fixture", "openai/error_invalid_api_key.json")
            .header("x-status", "401"),
    )
    .await;
    hl.flush_spans(); // the finisher records the metrics
    meters.force_flush().unwrap();

    let tokens = points(&exporter, "gen_ai.client.token.usage");
    let token_buckets = vec![
        1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
        4194304.0, 16777216.0, 67108864.0,
    ];
    let find =
        |points: &[(Vec<KeyValue>, u64, f64, Vec<f64>)], provider: &str, kind: Option<&str>| {
            points
                .iter()
                .find(|(a, ..)| {
                    get(a, "gen_ai.provider.name").as_deref() == Some(provider)
                        && kind.is_none_or(|k| get(a, "gen_ai.token.type").as_deref() == Some(k))
                })
                .cloned()
                .unwrap_or_else(|| panic!("no {provider} {kind:?} point in {points:#?}"))
        };
    let (a, count, sum, bounds) = find(&tokens, "openai", Some("input"));
    assert_eq!((count, sum), (1, 9.0));
    assert_eq!(bounds, token_buckets);
    assert_eq!(get(&a, "gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(
        get(&a, "gen_ai.request.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        get(&a, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(get(&a, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(find(&tokens, "openai", Some("output")).2, 12.0);
    assert_eq!(find(&tokens, "anthropic", Some("input")).2, 25.0);
    assert_eq!(find(&tokens, "anthropic", Some("output")).2, 15.0);

    let duration_buckets = vec![
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ];
    let durations = points(&exporter, "gen_ai.client.operation.duration");
    assert_eq!(
        durations.iter().map(|p| p.1).sum::<u64>(),
        3,
        "{durations:#?}"
    );
    assert!(durations.iter().all(|p| p.3 == duration_buckets));
    let failed: Vec<_> = durations
        .iter()
        .filter_map(|(a, ..)| get(a, "error.type"))
        .collect();
    assert_eq!(failed, vec!["invalid_api_key".to_owned()]);

    // Streaming only: one Anthropic point each.
    for name in [
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
    ] {
        let p = points(&exporter, name);
        assert_eq!(p.len(), 1, "{name}: {p:#?}");
        assert_eq!(
            get(&p[0].0, "gen_ai.provider.name").as_deref(),
            Some("anthropic")
        );
        assert_eq!(p[0].1, 1);
        assert_eq!(p[0].3, duration_buckets);
    }
}
