//! With no tracing subscriber (a service that only ships logs), nothing is decoded on the
//! caller's path: the log's builder decodes the request and the response on the
//! exporter's thread and records the GenAI metrics there. The logs and the metrics must
//! be the same as with a subscriber: messages, output, model config, tokens, cost, error,
//! and the metric points with their attributes.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::{adapters::*, endpoint::*, otel::*, provider::*};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

const CHAT: &str = r#"{"model":"gpt-4o-mini","temperature":0.5,"max_tokens":100,
    "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello!"}]}"#;

#[tokio::test(flavor = "current_thread")]
async fn logs_and_metrics_are_complete_without_a_subscriber() {
    let exporter = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(meters.clone());
    assert!(!tracing::dispatcher::has_been_set());

    let server = provider().await;
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    for adapter in ADAPTERS {
        let req = Req::post(server.url("/v1/chat/completions"), CHAT)
            .header("x-fixture", "openai/chat_basic.json");
        assert_eq!(send(adapter, &hl, req).await.status, 200);
    }
    let stream = Req::post(
        server.url("/v1/messages"),
        r#"{"model":"claude-opus-4-1","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"Hi"}]}"#,
    )
    .header("x-fixture", "anthropic/stream_basic.sse")
    .header("x-chunk", "40");
    assert_eq!(send(Adapter::Tower, &hl, stream).await.status, 200);
    let failing = Req::post(server.url("/v1/chat/completions"), CHAT)
        .header("x-fixture", "openai/error_invalid_api_key.json")
        .header("x-status", "401");
    assert_eq!(send(Adapter::Reqwest, &hl, failing).await.status, 401);

    let logs = flushed_logs(&hl, &sink, 4).await;
    assert_eq!(logs.len(), 4);
    for log in &logs[..2] {
        assert_hello_chat(log);
        assert_eq!(log["config"]["model"], "gpt-4o-mini");
        assert_eq!(log["config"]["temperature"], 0.5);
        assert_eq!(log["config"]["max_tokens"], 100);
        assert_eq!(log["prompt_tokens"], 9);
        assert_eq!(log["output_tokens"], 12);
        assert!(log["prompt_cost"].as_f64().unwrap() > 0.0);
        assert_eq!(log["provider_response"]["id"], "chatcmpl-123");
        assert!(log.get("error").is_none());
    }
    let anthropic = &logs[2];
    assert_eq!(anthropic["config"]["model"], "claude-opus-4-1-20250805");
    assert_eq!(anthropic["config"]["provider"], "anthropic");
    assert_eq!(anthropic["prompt_tokens"], 25);
    assert_eq!(anthropic["output_tokens"], 15);
    assert!(!anthropic["output"].as_str().unwrap().is_empty());
    let error = logs[3]["error"].as_str().unwrap();
    assert!(
        error.contains("401") && error.contains("invalid_api_key"),
        "{error}"
    );

    hl.flush_spans(); // the finisher records the metrics
    meters.force_flush().unwrap();
    let tokens = points(&exporter, "gen_ai.client.token.usage");
    let openai_input: Vec<_> = tokens
        .iter()
        .filter(|(a, ..)| {
            get(a, "gen_ai.provider.name").as_deref() == Some("openai")
                && get(a, "gen_ai.token.type").as_deref() == Some("input")
        })
        .collect();
    assert_eq!(openai_input.len(), 1, "{tokens:#?}");
    let (attrs, _, sum, _) = openai_input[0];
    assert_eq!(*sum, 18.0, "two calls of 9 input tokens");
    assert_eq!(
        get(attrs, "gen_ai.request.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        get(attrs, "gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini")
    );
    let anthropic_output = tokens
        .iter()
        .find(|(a, ..)| {
            get(a, "gen_ai.provider.name").as_deref() == Some("anthropic")
                && get(a, "gen_ai.token.type").as_deref() == Some("output")
        })
        .expect("anthropic output tokens");
    assert_eq!(anthropic_output.2, 15.0);
    let durations = points(&exporter, "gen_ai.client.operation.duration");
    let failed: Vec<_> = durations
        .iter()
        .filter_map(|(a, ..)| get(a, "error.type"))
        .collect();
    assert_eq!(failed, vec!["invalid_api_key".to_owned()]);
    assert_eq!(
        points(&exporter, "gen_ai.client.operation.time_to_first_chunk").len(),
        1
    );
}
