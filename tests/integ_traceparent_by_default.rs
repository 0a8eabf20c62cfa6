//! Without any global OpenTelemetry propagator, an LLM call still carries the W3C
//! `traceparent` of its own span (the provider, or a proxy in between, joins the trace);
//! `trace_context(false)` turns it off. (No test here sets a global propagator.)

#[path = "it/harness/mod.rs"]
mod harness;

use harness::{adapters::*, endpoint::*, otel::*, provider::*};

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}"#;

async fn traceparent_sent(adapter: Adapter, on: bool) -> (Option<String>, Otel) {
    let server = provider().await;
    let sink = Recorder::start().await;
    let otel = otel();
    let hl = humanloop(&sink, |b| if on { b } else { b.trace_context(false) });
    let req = Req::post(server.url("/v1/chat/completions"), CHAT)
        .header("x-fixture", "openai/chat_basic.json");
    send(adapter, &hl, req).await;
    let requests = server.requests.lock().unwrap();
    let tp = requests[0]
        .1
        .get("traceparent")
        .map(|v| v.to_str().unwrap().to_owned());
    (tp, otel)
}

#[tokio::test(flavor = "current_thread")]
async fn integ_traceparent_is_injected_without_a_global_propagator() {
    for adapter in ADAPTERS {
        let (tp, otel) = traceparent_sent(adapter, true).await;
        let span = otel.genai_span();
        let expected = format!(
            "00-{}-{}-01",
            span.span_context.trace_id(),
            span.span_context.span_id()
        );
        assert_eq!(tp.as_deref(), Some(expected.as_str()), "{adapter:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn integ_traceparent_switch_turns_it_off() {
    for adapter in ADAPTERS {
        let (tp, otel) = traceparent_sent(adapter, false).await;
        assert_eq!(otel.genai_spans().len(), 1, "still traced");
        assert_eq!(tp, None, "{adapter:?}");
    }
}
