//! `Client::completion_model_config*` calls made inside a session and a step carry that
//! session and parent automatically (the endpoint files its datapoint under the step,
//! whose own log the exporter delivered first), and each call has its own GenAI span.

use crate::harness::endpoint::handle;
use std::time::Duration;

use futures_util::StreamExt;
use humanloop_tracing::api::{CompletionModelConfigRequest, JsonMap};
use humanloop_tracing::server::{self, ServerConfig};
use humanloop_tracing::{session, step, Config};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Value as OtelValue;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{json, Value};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

fn attr(span: &SpanData, key: &str) -> Option<OtelValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_calls_join_the_session_and_step() {
    let endpoint = server::spawn(ServerConfig::in_memory(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = endpoint.base_url();
    let http = reqwest::Client::new();
    let config: Value = http
        .post(format!("{base}/model-configs"))
        .json(&json!({
            "model": "mock-1", "provider": "mock", "project": "hier",
            "chat_template": [{"role": "user", "content": "Say hello to {{name}}"}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let config_id = config["config"]["id"].as_str().unwrap().to_owned();

    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let hl = handle(
        Config::builder()
            .base_url(&base)
            .project("hier")
            // A long delay: only the barrier before the call can have delivered the step.
            .schedule_delay(Duration::from_secs(30)),
    );
    let subscriber = tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut inputs = JsonMap::new();
    inputs.insert("name".into(), json!("Ada"));
    let request = CompletionModelConfigRequest::new(config_id.clone())
        .with_project("hier")
        .with_inputs(inputs)
        .with_num_samples(2u32);
    let client = hl.client().clone();
    let (plain, streamed) = async {
        async {
            let plain = client.completion_model_config(&request).await.unwrap();
            let streamed = client
                .completion_model_config_stream(&request)
                .await
                .unwrap()
                .collect_samples()
                .await
                .unwrap();
            (plain, streamed)
        }
        .instrument(step("greet"))
        .await
    }
    .instrument(session("hier-session"))
    .await;
    assert_eq!(plain.data.len(), 2);
    assert_eq!(streamed.len(), 2);
    hl.shutdown(Duration::from_secs(10)).await.unwrap();

    // The endpoint filed both completions' datapoints under the step, in the session.
    let logs: Value = http
        .get(format!("{base}/logs?session_reference_id=hier-session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logs = logs
        .as_array()
        .cloned()
        .or_else(|| logs["records"].as_array().cloned())
        .or_else(|| logs["data"].as_array().cloned())
        .unwrap_or_default();
    let step_log = logs
        .iter()
        .find(|l| l["config"]["type"] == "tool")
        .unwrap_or_else(|| panic!("the step's log: {logs:#?}"));
    let step_ref = step_log["reference_id"].as_str().unwrap();
    let completions: Vec<&Value> = logs
        .iter()
        .filter(|l| l["config"]["type"] != "tool")
        .collect();
    assert_eq!(completions.len(), 4, "2 samples × 2 calls: {logs:#?}");
    for c in &completions {
        assert_eq!(c["parent_reference_id"], step_ref, "{c:#}");
        assert_eq!(c["session_id"], step_log["session_id"], "{c:#}");
        assert_eq!(
            c["model_config_id"].as_str().or(c["config_id"].as_str()),
            Some(config_id.as_str()),
            "{c:#}"
        );
    }

    // Each call has its own client span under the step.
    let finished = spans.get_finished_spans().unwrap();
    let step_span = finished.iter().find(|s| s.name.contains("greet")).unwrap();
    let calls: Vec<&SpanData> = finished
        .iter()
        // Named after the model the config names, not the config id.
        .filter(|s| s.name == "chat mock-1")
        .collect();
    assert_eq!(calls.len(), 2, "{finished:#?}");
    for call in &calls {
        assert_eq!(call.parent_span_id, step_span.span_context.span_id());
        assert_eq!(
            attr(call, "gen_ai.provider.name"),
            Some(OtelValue::from("humanloop"))
        );
        assert_eq!(
            attr(call, "gen_ai.conversation.id"),
            Some(OtelValue::from("hier-session"))
        );
        assert_eq!(
            attr(call, "gen_ai.request.choice.count"),
            Some(OtelValue::I64(2))
        );
        assert!(attr(call, "error.type").is_none());
    }
    assert!(calls
        .iter()
        .any(|c| attr(c, "gen_ai.response.time_to_first_chunk").is_some()));
    endpoint.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stream_dropped_early_ends_its_span_as_cancelled() {
    let endpoint = server::spawn(ServerConfig::in_memory(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = endpoint.base_url();
    let config: Value = reqwest::Client::new()
        .post(format!("{base}/model-configs"))
        .json(&json!({"model": "mock-1", "provider": "mock", "prompt_template": "a long story"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let hl = handle(Config::builder().base_url(&base));
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut stream = hl
        .client()
        .completion_model_config_stream(&CompletionModelConfigRequest::new(
            config["config"]["id"].as_str().unwrap(),
        ))
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    let finished = spans.get_finished_spans().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(
        attr(&finished[0], "error.type"),
        Some(OtelValue::from("cancelled"))
    );
    hl.shutdown(Duration::from_secs(5)).await.unwrap();
    endpoint.shutdown().await.unwrap();
}
