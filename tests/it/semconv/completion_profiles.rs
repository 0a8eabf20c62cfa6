//! The `completion-model-config` span follows the chosen profile's rules like the
//! middleware's: a streamed completion the caller drops after its first chunk is
//! `cancelled`, with `finish_reasons = ["error"]` under v0.1 and only what arrived under
//! v1.41; outside any session v1.41 names the conversation after the trace, v0.1
//! synthesizes no `gen_ai.conversation.id`. Against the crate's own endpoint.

use futures_util::StreamExt;
use humanloop_tracing::api::CompletionModelConfigRequest;
use humanloop_tracing::semconv::Profile;
use opentelemetry_sdk::trace::SpanData;
use std::time::Duration;

use crate::harness::endpoint::handle;
use crate::harness::otel::{attrs, otel_with_hierarchy, s, strings};
use crate::harness::server::{config_for, start_with_mock_chat};

/// A plain call, then a stream dropped after its first chunk, under `profile`, outside
/// any session: (plain span, stream span).
async fn spans(profile: Profile) -> (SpanData, SpanData) {
    let (endpoint, _, id) = start_with_mock_chat("cp", "Tell a long story about the sea").await;
    let hl = handle(config_for(&endpoint, "cp").semconv_profile(profile));
    let otel = otel_with_hierarchy(&hl);

    let request = CompletionModelConfigRequest::new(id).with_project("cp");
    hl.client().completion_model_config(&request).await.unwrap();
    let mut stream = hl
        .client()
        .completion_model_config_stream(&request)
        .await
        .unwrap();
    let first = stream.next().await.expect("a first chunk").unwrap();
    assert!(
        first.data.iter().all(|d| d.finish_reason.is_none()),
        "the first chunk already finished the sample: {first:?}"
    );
    drop(stream);
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    endpoint.shutdown().await.unwrap();
    let mut spans: Vec<SpanData> = otel
        .spans()
        .into_iter()
        .filter(|s| attrs(s).contains_key("gen_ai.provider.name"))
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    spans.sort_by_key(|s| attrs(s).contains_key("gen_ai.request.stream"));
    let stream = spans.pop().unwrap();
    (spans.pop().unwrap(), stream)
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_completion_stream_and_a_sessionless_call_follow_the_profile() {
    let (plain, cut) = spans(Profile::V1_41).await;
    let (plain, cut) = (attrs(&plain), attrs(&cut));
    assert_eq!(cut.get("error.type"), Some(&s("cancelled")), "{cut:#?}");
    assert!(
        !cut.contains_key("gen_ai.response.finish_reasons"),
        "{cut:#?}"
    );
    assert!(plain.contains_key("gen_ai.conversation.id"), "{plain:#?}");

    let (plain, cut) = spans(Profile::GenAiV0_1).await;
    let (plain, cut) = (attrs(&plain), attrs(&cut));
    assert_eq!(cut.get("error.type"), Some(&s("cancelled")), "{cut:#?}");
    assert_eq!(
        cut.get("gen_ai.response.finish_reasons"),
        Some(&strings(&["error"])),
        "{cut:#?}"
    );
    assert!(!plain.contains_key("gen_ai.conversation.id"), "{plain:#?}");
    assert!(!cut.contains_key("gen_ai.conversation.id"), "{cut:#?}");
    // The plain call finished normally under both.
    assert_eq!(
        plain.get("gen_ai.response.finish_reasons"),
        Some(&strings(&["stop"]))
    );
}
