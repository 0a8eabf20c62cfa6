//! What the conventions offer beyond the core attributes, on middleware spans:
//! `openai.api.type`, `openai.request.service_tier`, `openai.response.service_tier`,
//! `openai.response.system_fingerprint`; `gen_ai.output.type`; for embeddings
//! `gen_ai.request.encoding_formats` and `gen_ai.embeddings.dimension.count`; and
//! `gen_ai.tool.definitions`, only with content capture on.

use crate::harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};

async fn one_span(
    capture: bool,
    path: &str,
    body: String,
    fixture: &str,
) -> opentelemetry_sdk::trace::SpanData {
    let sink = Recorder::start().await;
    let server = provider().await;
    let otel = otel();
    let hl = humanloop(&sink, |b| b.capture_content(capture));
    send(
        Adapter::Reqwest,
        &hl,
        Req::post(server.url(path), body).header("x-fixture", fixture),
    )
    .await;
    otel.genai_span()
}

#[tokio::test(flavor = "current_thread")]
async fn openai_chat_spans_carry_the_openai_attributes_and_the_output_type() {
    let body = r#"{"model":"gpt-4o-mini","service_tier":"default","response_format":{"type":"json_object"},
        "messages":[{"role":"user","content":"Hi"}]}"#;
    let span = one_span(
        false,
        "/v1/chat/completions",
        body.into(),
        "openai/chat_basic.json",
    )
    .await;
    let a = attrs(&span);
    assert_eq!(a.get("openai.api.type"), Some(&s("chat_completions")));
    assert_eq!(a.get("openai.request.service_tier"), Some(&s("default")));
    assert_eq!(a.get("openai.response.service_tier"), Some(&s("default")));
    assert_eq!(
        a.get("openai.response.system_fingerprint"),
        Some(&s("fp_44709d6fcb"))
    );
    assert_eq!(a.get("gen_ai.output.type"), Some(&s("json")));
}

#[tokio::test(flavor = "current_thread")]
async fn embeddings_spans_carry_the_encoding_format_and_dimensions() {
    let body = r#"{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float","dimensions":256}"#;
    let span = one_span(
        false,
        "/v1/embeddings",
        body.into(),
        "openai/embeddings_basic.json",
    )
    .await;
    let a = attrs(&span);
    assert_eq!(a.get("gen_ai.operation.name"), Some(&s("embeddings")));
    assert_eq!(
        a.get("gen_ai.request.encoding_formats"),
        Some(&strings(&["float"]))
    );
    assert_eq!(a.get("gen_ai.embeddings.dimension.count"), Some(&i(256)));
}

#[tokio::test(flavor = "current_thread")]
async fn tool_definitions_are_recorded_only_with_capture_on() {
    let body = String::from_utf8(fixture("openai/chat_request_tools.json").to_vec()).unwrap();
    let off = one_span(
        false,
        "/v1/chat/completions",
        body.clone(),
        "openai/chat_tool_calls.json",
    )
    .await;
    assert!(!attrs(&off).contains_key("gen_ai.tool.definitions"));
    let on = one_span(
        true,
        "/v1/chat/completions",
        body,
        "openai/chat_tool_calls.json",
    )
    .await;
    let a = attrs(&on);
    let defs: serde_json::Value =
        serde_json::from_str(&a["gen_ai.tool.definitions"].as_str()).unwrap();
    assert!(defs.as_array().is_some_and(|d| !d.is_empty()), "{defs}");
    assert_eq!(defs[0]["type"], "function", "{defs}");
}
