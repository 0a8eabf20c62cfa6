//! Content on spans is opt-in: off, no content attribute at all; on, valid JSON in the
//! GenAI parts format, redacted first, cut to the configured size while staying valid.

use crate::harness::{adapters::*, endpoint::*, otel::*, provider::*};
use opentelemetry::Value;
use serde_json::{json, Value as Json};

const ANTHROPIC_REQUEST: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":1024,
    "system":"You are a terse assistant.",
    "messages":[{"role":"user","content":"Hello, Claude"}]}"#;

fn content(a: &std::collections::HashMap<String, Value>, key: &str) -> Option<Json> {
    match a.get(key)? {
        Value::String(s) => Some(serde_json::from_str(s.as_str()).expect("invalid JSON")),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

async fn call(adapter: Adapter, hl: &humanloop_tracing::Humanloop) {
    let server = provider().await;
    let req = Req::post(server.url("/v1/messages"), ANTHROPIC_REQUEST)
        .header("x-fixture", "anthropic/message_basic.json");
    assert_eq!(send(adapter, hl, req).await.status, 200);
}

#[tokio::test(flavor = "current_thread")]
async fn content_off_records_no_content() {
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b.capture_content(false));
        call(adapter, &hl).await;
        let a = attrs(&otel.genai_span());
        for key in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
        ] {
            assert!(!a.contains_key(key), "{adapter:?}: {key}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn content_on_records_valid_json_in_the_parts_format() {
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b.capture_content(true));
        call(adapter, &hl).await;
        let a = attrs(&otel.genai_span());
        assert_eq!(
            content(&a, "gen_ai.input.messages"),
            Some(
                json!([{"role": "user", "parts": [{"type": "text", "content": "Hello, Claude"}]}])
            ),
            "{adapter:?}"
        );
        assert_eq!(
            content(&a, "gen_ai.system_instructions"),
            Some(json!([{"type": "text", "content": "You are a terse assistant."}]))
        );
        assert_eq!(
            content(&a, "gen_ai.output.messages"),
            Some(json!([{"role": "assistant", "finish_reason": "end_turn",
                "parts": [{"type": "text", "content": "Hi! My name is Claude."}]}]))
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn content_is_redacted_before_it_is_recorded() {
    let sink = Recorder::start().await;
    let otel = otel();
    let hl = humanloop(&sink, |b| {
        b.capture_content(true)
            .redact(|t: &mut String| *t = t.replace("Claude", "[name]"))
    });
    call(Adapter::Reqwest, &hl).await;
    let a = attrs(&otel.genai_span());
    let input = content(&a, "gen_ai.input.messages").unwrap();
    assert_eq!(input[0]["parts"][0]["content"], "Hello, [name]");
    let output = content(&a, "gen_ai.output.messages").unwrap();
    assert_eq!(output[0]["parts"][0]["content"], "Hi! My name is [name].");
}

#[tokio::test(flavor = "current_thread")]
async fn long_content_is_cut_and_stays_valid_json() {
    let sink = Recorder::start().await;
    let otel = otel();
    let hl = humanloop(&sink, |b| {
        b.capture_content(true).max_content_attribute_bytes(300)
    });
    let server = provider().await;
    let long = "ünïcødé \"quoted\" ".repeat(200);
    let body = json!({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": long},
        {"role": "user", "content": long},
    ]});
    let req = Req::post(server.url("/v1/chat/completions"), body.to_string())
        .header("x-fixture", "openai/chat_basic.json");
    send(Adapter::Tower, &hl, req).await;
    let a = attrs(&otel.genai_span());
    let Some(Value::String(raw)) = a.get("gen_ai.input.messages") else {
        panic!("no input messages in {a:#?}");
    };
    assert!(raw.as_str().len() <= 300, "{}", raw.as_str().len());
    let input: Json = serde_json::from_str(raw.as_str()).unwrap();
    let text = input[1]["parts"][0]["content"].as_str().unwrap();
    assert!(text.ends_with('…') && long.starts_with(text.trim_end_matches('…')));
}
