//! `semconv::TABLE` walked row by row under each profile: one set of calls that exercises
//! every span the crate makes (inference, completion, tool, agent, session) and every
//! metric, then for each row, the profile's name for it is emitted (as a span attribute,
//! a metric, or a metric data point attribute), and the other profile's different name is
//! not. Conversely, everything emitted is in the table for that profile. The v0.1 usage
//! counters' values by `gen_ai.token.modality` are checked too (Gemini's breakdown, the
//! rest `unknown`).
//!
//! Own binary: it installs the global OpenTelemetry meter provider.

#[path = "it/harness/mod.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};
use humanloop_tracing::api::CompletionModelConfigRequest;
use humanloop_tracing::hierarchy::{record_error, record_input, record_output};
use humanloop_tracing::semconv::{self, Kind, Name, Profile, TABLE};
use humanloop_tracing::{agent, session, step, tool, Humanloop};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, PeriodicReader, SdkMeterProvider, Temporality,
};
use tracing::Instrument;

/// Rows no call here can make emit, each with why. `gen_ai.prompt.version` needs an
/// endpoint that versions model configs (`data[].model_config_version`); the crate's own
/// endpoint, like the v4 API, has none: the walk asserts it is absent instead.
const NOT_EMITTED_HERE: [&str; 1] = [semconv::GEN_AI_PROMPT_VERSION];

/// Attributes the crate does not own (the hierarchy's `humanloop.*` fields,
/// tracing-opentelemetry's defaults).
fn foreign(key: &str) -> bool {
    key.starts_with("code.")
        || key.starts_with("thread.")
        || matches!(key, "busy_ns" | "idle_ns" | "target")
        || key.starts_with("humanloop.") && key != semconv::HUMANLOOP_OUTPUT_TRUNCATED
}

/// What one profile's calls emitted, by kind of name.
#[derive(Default, Debug)]
struct Seen {
    by_kind: BTreeMap<&'static str, BTreeSet<String>>,
    /// (metric, modality) → sum of the counter's points.
    counters: BTreeMap<(String, String), u64>,
}

fn kind_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Attribute => "attribute",
        Kind::Metric => "metric",
        Kind::MetricAttribute => "metric attribute",
        _ => unreachable!("a kind this walk does not know"),
    }
}

impl Seen {
    fn add(&mut self, kind: Kind, name: &str) {
        self.by_kind
            .entry(kind_key(kind))
            .or_default()
            .insert(name.to_owned());
    }
    fn has(&self, kind: Kind, name: &str) -> bool {
        self.by_kind
            .get(kind_key(kind))
            .is_some_and(|s| s.contains(name))
    }
    fn metrics(&mut self, batches: &[ResourceMetrics]) {
        for rm in batches {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    self.add(Kind::Metric, m.name());
                    let mut attrs: Vec<Vec<KeyValue>> = Vec::new();
                    match m.data() {
                        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                            attrs.extend(h.data_points().map(|p| p.attributes().cloned().collect()))
                        }
                        AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                            attrs.extend(h.data_points().map(|p| p.attributes().cloned().collect()))
                        }
                        AggregatedMetrics::U64(MetricData::Sum(s)) => {
                            for p in s.data_points() {
                                let a: Vec<KeyValue> = p.attributes().cloned().collect();
                                let modality = get(&a, semconv::GEN_AI_TOKEN_MODALITY)
                                    .unwrap_or_else(|| "(none)".to_owned());
                                *self
                                    .counters
                                    .entry((m.name().to_owned(), modality))
                                    .or_default() += p.value();
                                attrs.push(a);
                            }
                        }
                        other => panic!(
                            "{}: an instrument this walk does not know: {other:?}",
                            m.name()
                        ),
                    }
                    for kv in attrs.iter().flatten() {
                        self.add(Kind::MetricAttribute, kv.key.as_str());
                    }
                }
            }
        }
    }
}

const CHAT_ALL_PARAMS: &str = r#"{"model":"gpt-4o-mini","temperature":0.5,"top_p":0.9,"top_k":40,
    "max_tokens":64,"frequency_penalty":0.1,"presence_penalty":0.2,"seed":7,"stop":["END"],"n":2,
    "service_tier":"default","response_format":{"type":"json_object"},
    "messages":[{"role":"user","content":"Hi"}]}"#;

/// Every kind of call, under `profile`, content capture on.
async fn run(
    profile: Profile,
    exporter: &InMemoryMetricExporter,
    meters: &SdkMeterProvider,
) -> Seen {
    let sink = Recorder::start().await;
    let server = provider().await;
    let hl = humanloop(&sink, |b| b.semconv_profile(profile).capture_content(true));
    let small = humanloop(&sink, |b| b.semconv_profile(profile).max_capture_bytes(64));
    let otel = otel_with_hierarchy(&hl);
    let call = |hl: &Humanloop, path: &str, body: &str, fixture: &str| {
        let req = Req::post(server.url(path), body.to_owned()).header("x-fixture", fixture);
        let hl = hl.clone();
        async move { send(Adapter::Reqwest, &hl, req).await }
    };

    let root = session("table-session");
    record_input(&root, "question", "Plan a trip");
    async {
        let planner = agent("planner");
        record_input(&planner, "goal", "three days");
        async {
            // Every request parameter, the OpenAI extras, the output type.
            call(&hl, "/v1/chat/completions", CHAT_ALL_PARAMS, "openai/chat_basic.json").await;
            // Cached and reasoning tokens.
            call(
                &hl,
                "/v1/chat/completions",
                r#"{"model":"o3-mini","messages":[{"role":"user","content":"Think"}]}"#,
                "openai/chat_reasoning_cached.json",
            )
            .await;
            // Cache writes and system instructions.
            call(
                &hl,
                "/v1/messages",
                r#"{"model":"claude-sonnet-4-5","max_tokens":64,"system":"Be brief",
                    "messages":[{"role":"user","content":"Themes?"}]}"#,
                "anthropic/message_cache_usage.json",
            )
            .await;
            // Gemini: usage split by modality (text), cached tokens too, thinking tokens not.
            call(
                &hl,
                "/v1beta/models/gemini-2.5-flash:generateContent",
                r#"{"contents":[{"role":"user","parts":[{"text":"Think"}]}]}"#,
                "gemini/generate_thinking_cached.json",
            )
            .await;
            // Tools offered.
            let tools = String::from_utf8(fixture("openai/chat_request_tools.json").to_vec()).unwrap();
            call(&hl, "/v1/chat/completions", &tools, "openai/chat_tool_calls.json").await;
            // A stream in many chunks: time to first chunk, time per output chunk.
            let req = Req::post(
                server.url("/v1/chat/completions"),
                r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
            )
            .header("x-fixture", "openai/chat_stream_include_usage.sse")
            .header("x-chunk", "40");
            send(Adapter::Tower, &hl, req).await;
            // Embeddings with their format and dimensions.
            call(
                &hl,
                "/v1/embeddings",
                r#"{"model":"text-embedding-3-small","input":["a"],"encoding_format":"float","dimensions":256}"#,
                "openai/embeddings_basic.json",
            )
            .await;
            // A failure.
            let req = Req::post(
                server.url("/v1/chat/completions"),
                r#"{"model":"gpt-4o-mini","messages":[]}"#,
            )
            .header("x-fixture", "openai/error_invalid_api_key.json")
            .header("x-status", "401");
            send(Adapter::Reqwest, &hl, req).await;
            // A response past the capture cap.
            call(
                &small,
                "/v1/chat/completions",
                r#"{"model":"gpt-4o-mini","messages":[]}"#,
                "openai/chat_basic.json",
            )
            .await;

            let search = tool("search");
            record_input(&search, "query", "flights");
            async { record_output(&tracing::Span::current(), "3 flights") }
                .instrument(search)
                .await;
            async { record_error(&tracing::Span::current(), "no seats") }
                .instrument(tool("book"))
                .await;
            async {}.instrument(step("summarise")).await;
            record_output(&tracing::Span::current(), "a plan");
        }
        .instrument(planner)
        .await;
        record_output(&tracing::Span::current(), "Here is your trip");
    }
    .instrument(root)
    .await;

    completion_call(profile).await;

    let _ = hl.flush(Duration::from_secs(10)).await;
    meters.force_flush().unwrap();
    let mut seen = Seen::default();
    for span in otel.spans() {
        for kv in &span.attributes {
            if !foreign(kv.key.as_str()) {
                seen.add(Kind::Attribute, kv.key.as_str());
            }
        }
    }
    seen.metrics(&exporter.get_finished_metrics().unwrap());
    exporter.reset();
    seen
}

/// A plain and a streamed `completion-model-config` call against the crate's own endpoint.
async fn completion_call(profile: Profile) {
    let (endpoint, _, id) = harness::server::start_with_mock_chat("table", "Say hello").await;
    let config = harness::server::config_for(&endpoint, "table");
    let hl = handle(config.semconv_profile(profile).capture_content(true));
    let request = CompletionModelConfigRequest::new(id)
        .with_project("table")
        .with_num_samples(2);
    harness::server::complete_plain_then_streamed(hl.client(), &request).await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    endpoint.shutdown().await.unwrap();
}

fn other(profile: Profile) -> Profile {
    match profile {
        Profile::V1_41 => Profile::GenAiV0_1,
        _ => Profile::V1_41,
    }
}

fn walk(profile: Profile, seen: &Seen) {
    let mut checked = 0;
    for row in TABLE {
        let ours = profile.name(row);
        if let Some(name) = ours {
            if NOT_EMITTED_HERE.contains(&name) {
                assert!(
                    !seen.has(row.kind, name),
                    "{profile:?}: {name} emitted after all"
                );
            } else {
                assert!(
                    seen.has(row.kind, name),
                    "{profile:?}: {:?} `{name}` ({}: {}) was not emitted; seen {:#?}",
                    row.kind,
                    row.on,
                    row.when,
                    seen.by_kind
                );
                checked += 1;
            }
        }
        if let Some(theirs) = other(profile).name(row).filter(|t| Some(*t) != ours) {
            assert!(
                !seen.has(row.kind, theirs),
                "{profile:?} emitted {theirs}, a name only {:?} has",
                other(profile)
            );
        }
    }
    assert!(checked > 50, "{profile:?}: only {checked} rows checked");
    // And nothing emitted that the table lacks for this profile.
    for kind in [Kind::Attribute, Kind::Metric, Kind::MetricAttribute] {
        let listed: BTreeSet<&str> = TABLE
            .iter()
            .filter(|n: &&Name| n.kind == kind)
            .filter_map(|n| profile.name(n))
            .collect();
        for name in seen.by_kind.get(kind_key(kind)).into_iter().flatten() {
            assert!(
                listed.contains(name.as_str()),
                "{profile:?}: {kind:?} `{name}` is not in semconv::TABLE for this profile"
            );
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_name_of_each_profile_is_emitted_and_no_other() {
    // Delta temporality: each round exports only what its own calls recorded.
    let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporterBuilder::new()
        .with_temporality(Temporality::Delta)
        .build();
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(meters.clone());

    let v141 = run(Profile::V1_41, &exporter, &meters).await;
    walk(Profile::V1_41, &v141);
    let v01 = run(Profile::GenAiV0_1, &exporter, &meters).await;
    walk(Profile::GenAiV0_1, &v01);

    // v0.1's counters, by modality: Gemini's breakdown (2066 text input tokens, 2048 of
    // them cached), everything else `unknown` (Anthropic: 21 + 1024 cached + 188086
    // written, input includes both; OpenAI reasoning fixture: 1920 cached, 1920
    // reasoning; Gemini's 342 thinking tokens, which its breakdown leaves out).
    let points = |metric: &str| -> BTreeMap<&str, u64> {
        v01.counters
            .iter()
            .filter(|((m, _), _)| m == metric)
            .map(|((_, modality), n)| (modality.as_str(), *n))
            .collect()
    };
    let unknown = semconv::TOKEN_MODALITY_UNKNOWN;
    assert_eq!(
        points(semconv::METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS),
        BTreeMap::from([(unknown, 188086)])
    );
    assert_eq!(
        points(semconv::METRIC_USAGE_CACHE_READ_INPUT_TOKENS),
        BTreeMap::from([("text", 2048), (unknown, 1024 + 1920)])
    );
    assert_eq!(
        points(semconv::METRIC_USAGE_REASONING_OUTPUT_TOKENS),
        BTreeMap::from([(unknown, 1920 + 342)])
    );
    let input = points(semconv::METRIC_USAGE_INPUT_TOKENS);
    assert_eq!(
        input.keys().copied().collect::<Vec<_>>(),
        ["text", unknown],
        "{input:?}"
    );
    assert_eq!(input["text"], 2066);
    assert!(input[unknown] >= 21 + 1024 + 188086 + 2006, "{input:?}");
    let output = points(semconv::METRIC_USAGE_OUTPUT_TOKENS);
    assert_eq!(
        output.keys().copied().collect::<Vec<_>>(),
        [unknown],
        "{output:?}"
    );
    assert!(output[unknown] >= 393 + 2434 + 12 + 342, "{output:?}");
    assert!(
        v141.counters.is_empty(),
        "v1.41 has no counters: {:?}",
        v141.counters
    );
}
