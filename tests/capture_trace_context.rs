//! The call's place in the trace: its span is a child of the caller's span, the
//! outgoing request carries its `traceparent`, the session key becomes
//! `gen_ai.conversation.id` and the log's `session_reference_id`, the log's
//! `reference_id` is the span's id, and a sampled-out session logs nothing.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};
use tracing::Instrument;

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}"#;

#[tokio::test(flavor = "current_thread")]
async fn the_request_carries_the_calls_traceparent() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let server = provider().await;
    let sink = Recorder::start().await;
    for (n, adapter) in ADAPTERS.into_iter().enumerate() {
        let otel = otel();
        let hl = humanloop(&sink, |b| b);
        let req = Req::post(server.url("/v1/chat/completions"), CHAT)
            .header("x-fixture", "openai/chat_basic.json");
        send(adapter, &hl, req)
            .instrument(tracing::info_span!("caller"))
            .await;

        let span = otel.genai_span();
        let caller = otel
            .spans()
            .into_iter()
            .find(|s| s.name == "caller")
            .unwrap();
        assert_eq!(
            span.parent_span_id,
            caller.span_context.span_id(),
            "{adapter:?}"
        );
        assert_eq!(span.span_context.trace_id(), caller.span_context.trace_id());

        let requests = server.requests.lock().unwrap();
        let (_, headers, _) = &requests[n];
        let traceparent = headers["traceparent"].to_str().unwrap();
        assert_eq!(
            traceparent,
            format!(
                "00-{}-{}-01",
                span.span_context.trace_id(),
                span.span_context.span_id()
            ),
            "{adapter:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_session_names_the_conversation_and_the_log() {
    let server = provider().await;
    let sink = Recorder::start().await;
    for (n, adapter) in ADAPTERS.into_iter().enumerate() {
        let hl = humanloop(&sink, |b| b);
        let otel = otel_with_hierarchy(&hl);
        let req = Req::post(server.url("/v1/chat/completions"), CHAT)
            .header("x-fixture", "openai/chat_basic.json");
        send(adapter, &hl, req)
            .instrument(humanloop_tracing::session("conversation-42"))
            .await;
        let span = otel.genai_span();
        let a = attrs(&span);
        assert_eq!(a.get("gen_ai.conversation.id"), Some(&s("conversation-42")));

        let logs = flushed_logs(&hl, &sink, n + 1).await;
        let log = &logs[n];
        assert_eq!(log["session_reference_id"], "conversation-42", "{log:#}");
        assert_eq!(
            log["reference_id"],
            span.span_context.span_id().to_string(),
            "the log names its span"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_sampled_out_session_logs_nothing_and_records_no_content() {
    let server = provider().await;
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let hl = humanloop(&sink, |b| b.sample_ratio(0.0).capture_content(true));
        let otel = otel_with_hierarchy(&hl);
        let req = Req::post(server.url("/v1/chat/completions"), CHAT)
            .header("x-fixture", "openai/chat_basic.json");
        let got = send(adapter, &hl, req)
            .instrument(humanloop_tracing::session("sampled-out"))
            .await;
        assert_eq!(got.body, fixture("openai/chat_basic.json"));
        let _ = hl.flush(std::time::Duration::from_secs(5)).await;
        let a = attrs(&otel.genai_span());
        assert!(!a.contains_key("gen_ai.input.messages"), "{adapter:?}");
        assert!(!a.contains_key("gen_ai.output.messages"), "{adapter:?}");
        assert_eq!(a.get("gen_ai.usage.input_tokens"), Some(&i(9)));
    }
    assert!(sink.bodies().is_empty(), "{:#?}", sink.bodies());
}
