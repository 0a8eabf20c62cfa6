//! The `completion-model-config` span is like every other LLM span: the model the model
//! config names (`gen_ai.request.model`, and the span name `chat {model}`), the provider's
//! `gen_ai.response.model`, `gen_ai.prompt.name` = the model config id, usage and finish
//! reasons; the rendered template and every sample as messages only with capture on. For
//! plain and streamed calls, against the crate's own endpoint (its `mock` provider), whose
//! logs of the calls carry `gen_ai.prompt.name` in their metadata.

use std::time::Duration;

use crate::harness::endpoint::handle;
use crate::harness::otel::{attr, otel_with_hierarchy, s};
use crate::harness::server::{
    complete_plain_then_streamed, config_for, greet_ada, start_with_mock_chat,
};
use humanloop_tracing::session;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tracing::Instrument;

fn json_attr(span: &SpanData, key: &str) -> serde_json::Value {
    let v = attr(span, key).unwrap_or_else(|| panic!("no {key} on {span:#?}"));
    serde_json::from_str(&v.as_str()).unwrap()
}

async fn completion_spans(capture: bool) -> (Vec<SpanData>, String, Vec<serde_json::Value>) {
    let (endpoint, _, config_id) = start_with_mock_chat("sc", "Say hello to {{name}}").await;
    let base = endpoint.base_url();
    let hl = handle(config_for(&endpoint, "sc").capture_content(capture));
    let otel = otel_with_hierarchy(&hl);

    let request = greet_ada(&config_id, "sc");
    complete_plain_then_streamed(hl.client(), &request)
        .instrument(session("sc-session"))
        .await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    let logs = stored_logs(&base, "sc-session").await;
    endpoint.shutdown().await.unwrap();
    let spans = otel
        .spans()
        .into_iter()
        .filter(|s| attr(s, "gen_ai.provider.name").is_some())
        .collect();
    (spans, config_id, logs)
}

/// Every log the endpoint stored in `session`, in full.
async fn stored_logs(base: &str, session: &str) -> Vec<serde_json::Value> {
    let http = reqwest::Client::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let list = get(format!(
        "{base}/logs?session_reference_id={session}&size=100"
    ))
    .await;
    let mut out = Vec::new();
    for record in list["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
    {
        let id = record["id"].as_str().unwrap();
        out.push(get(format!("{base}/logs/{id}")).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_spans_carry_the_real_model_prompt_and_usage() {
    let (spans, config_id, logs) = completion_spans(false).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    // The endpoint's logs (two samples per call) carry the prompt identity in their
    // metadata: the v4 log has no field for it.
    assert_eq!(logs.len(), 4, "{logs:#?}");
    for log in &logs {
        assert_eq!(log["config_id"], config_id.as_str(), "{log:#}");
        assert_eq!(
            log["metadata"]["gen_ai.prompt.name"],
            config_id.as_str(),
            "{log:#}"
        );
    }
    for span in &spans {
        assert_eq!(span.name, "chat mock-1", "{span:#?}");
        assert_eq!(attr(span, "gen_ai.request.model"), Some(s("mock-1")));
        assert!(attr(span, "gen_ai.response.model").is_some(), "{span:#?}");
        assert_eq!(attr(span, "gen_ai.prompt.name"), Some(s(&config_id)));
        assert_eq!(attr(span, "gen_ai.operation.name"), Some(s("chat")));
        assert_eq!(attr(span, "gen_ai.conversation.id"), Some(s("sc-session")));
        let input = attr(span, "gen_ai.usage.input_tokens").expect("input tokens");
        assert!(matches!(input, Value::I64(n) if n > 0), "{input:?}");
        assert!(attr(span, "gen_ai.usage.output_tokens").is_some());
        assert!(attr(span, "gen_ai.response.finish_reasons").is_some());
        // Capture off: no content.
        assert!(attr(span, "gen_ai.input.messages").is_none());
        assert!(attr(span, "gen_ai.output.messages").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_capture_on_the_rendered_template_and_every_sample_are_recorded() {
    let (spans, _, _) = completion_spans(true).await;
    assert_eq!(spans.len(), 2, "{spans:#?}");
    for span in &spans {
        let input = json_attr(span, "gen_ai.input.messages");
        assert_eq!(input[0]["role"], "user", "{input}");
        assert_eq!(
            input[0]["parts"][0]["content"], "Say hello to Ada",
            "{input}"
        );
        let output = json_attr(span, "gen_ai.output.messages");
        let output = output.as_array().unwrap();
        assert_eq!(output.len(), 2, "one message per sample: {output:?}");
        for message in output {
            assert_eq!(message["role"], "assistant");
            let text = message["parts"][0]["content"].as_str().unwrap();
            assert!(!text.is_empty(), "{message}");
            assert!(message["finish_reason"].is_string());
        }
    }
}
