//! The Rust `genai` crate (0.4, which brings its own reqwest 0.12 and takes no middleware),
//! pointed at the proxy by a `ServiceTargetResolver`, plain and streaming, through to the
//! loopback OpenAI-compatible demo provider: genai gets the provider's answers; the endpoint
//! holds one log per call. Without hierarchy headers every call is its own session; with
//! W3C `baggage` (genai's extra headers) the call joins the caller's session under the
//! caller's step. GenAI spans are recorded; the key genai sends is in no log and no span.

mod proxy_support;

use futures_util::StreamExt;
use genai::adapter::AdapterKind;
use genai::chat::{ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint, ServiceTargetResolver};
use genai::{ModelIden, ServiceTarget};
use proxy_support::{attr, demo_upstream, spans_text, PROVIDER_KEY};
use tracing::Instrument;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_genai_crate() {
    let upstream = demo_upstream().await;
    let stack = proxy_support::start(|c| c.upstream(&format!("openai={upstream}")).unwrap()).await;

    let endpoint = format!("{}/openai/v1/", stack.proxy_url);
    let resolver = ServiceTargetResolver::from_resolver_fn(
        move |target: ServiceTarget| -> Result<ServiceTarget, genai::resolver::Error> {
            Ok(ServiceTarget {
                endpoint: Endpoint::from_owned(endpoint.clone()),
                auth: AuthData::from_single(PROVIDER_KEY),
                model: ModelIden::new(AdapterKind::OpenAI, target.model.model_name),
            })
        },
    );
    let client = genai::Client::builder()
        .with_service_target_resolver(resolver)
        .build();

    let plain = client
        .exec_chat(
            "gpt-4o-mini",
            ChatRequest::new(vec![ChatMessage::user("What is the weather in Lisbon?")]),
            None,
        )
        .await
        .expect("plain call through the proxy");
    assert_eq!(
        plain.first_text(),
        Some("Sunny, 24°C, light breeze from the Atlantic.")
    );
    assert_eq!(plain.usage.completion_tokens, Some(9));

    let mut streamed = String::new();
    let mut chunks = 0;
    let mut response = client
        .exec_chat_stream(
            "gpt-4o-mini",
            ChatRequest::new(vec![ChatMessage::user("Which hotel?")]),
            None,
        )
        .await
        .expect("stream call through the proxy");
    while let Some(event) = response.stream.next().await {
        if let ChatStreamEvent::Chunk(c) = event.expect("stream event") {
            streamed.push_str(&c.content);
            chunks += 1;
        }
    }
    assert_eq!(
        streamed,
        "Memmo Alfama: rooftop pool, river views, 3 nights from €540."
    );
    assert!(chunks > 5, "{chunks} chunks");

    // The caller's tree: a step in a session, carried by `hierarchy::inject` as W3C
    // `baggage` and `traceparent`.
    let mut headers = http::HeaderMap::new();
    async {
        async { humanloop_tracing::hierarchy::inject(&mut headers) }
            .instrument(humanloop_tracing::step("plan-trip"))
            .await
    }
    .instrument(humanloop_tracing::session("genai-session"))
    .await;
    let remote = humanloop_tracing::hierarchy::extract(&headers);
    let step_ref = remote.parent.clone().expect("the step's reference id");
    assert!(remote.traceparent.is_some());
    stack
        .hl
        .flush(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let extra: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let options = ChatOptions::default().with_extra_headers(extra);
    let joined = client
        .exec_chat(
            "gpt-4o-mini",
            ChatRequest::new(vec![ChatMessage::user("Summarise the trip")]),
            Some(&options),
        )
        .await
        .expect("call with baggage");
    assert!(joined
        .first_text()
        .unwrap()
        .starts_with("A three-day Lisbon trip"));

    let logs = stack.logs(4).await;
    assert_eq!(logs.len(), 4, "the step and three calls: {logs:#?}");
    assert!(!serde_json::to_string(&logs).unwrap().contains(PROVIDER_KEY));
    let by_output = |prefix: &str| {
        logs.iter()
            .find(|l| l["output"].as_str().is_some_and(|o| o.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no log with output {prefix}…: {logs:#?}"))
    };
    let (a, b, c) = (
        by_output("Sunny"),
        by_output("Memmo"),
        by_output("A three-day"),
    );
    for log in [a, b, c] {
        assert_eq!(log["config"]["model"], "gpt-4o-mini", "{log:#}");
    }
    let (sa, sb) = (
        a["session_reference_id"]
            .as_str()
            .expect("automatic session"),
        b["session_reference_id"]
            .as_str()
            .expect("automatic session"),
    );
    assert!(!sa.is_empty() && !sb.is_empty());
    assert_ne!(
        sa, sb,
        "each call without hierarchy headers is its own session"
    );
    assert_eq!(c["session_reference_id"], "genai-session", "{c:#}");
    assert_eq!(c["parent_reference_id"], step_ref.as_str(), "{c:#}");

    let spans = stack.llm_spans();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    // With `traceparent`, the third call's span joins the caller's trace.
    let caller_trace = remote.traceparent.unwrap()[3..35].to_owned();
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.span_context.trace_id().to_string() == caller_trace)
            .count(),
        1,
        "{spans:#?}"
    );
    for span in &spans {
        assert_eq!(
            attr(span, "gen_ai.request.model").as_deref(),
            Some("gpt-4o-mini")
        );
    }
    assert!(!spans_text(&spans).contains(PROVIDER_KEY));
}
