//! With `tracing_opentelemetry::layer()` beside the hierarchy layer (either order), a step's
//! reference_id is its OpenTelemetry span id and the default session is the trace id, so logs
//! and spans name each other.
#![cfg(feature = "otel")]

use crate::harness::endpoint::handle;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::{session, step};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

async fn run(otel_first: bool) {
    let rec = Recorder::start().await;
    let hl = handle(rec.config());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test");
    let guard = if otel_first {
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(hl.tracing_layer())
            .set_default()
    } else {
        tracing_subscriber::registry()
            .with(hl.tracing_layer())
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .set_default()
    };

    async {
        async {
            async {}.instrument(step("inner")).await;
        }
        .instrument(step("outer"))
        .await;
    }
    .instrument(tracing::info_span!("request"))
    .await;
    async {
        async {}.instrument(step("in-session")).await;
    }
    .instrument(session("explicit-key"))
    .await;

    drop(guard);
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let span = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("span {name}"))
            .clone()
    };

    let (outer, inner) = (span("outer"), span("inner"));
    let (outer_log, inner_log) = (rec.step("outer"), rec.step("inner"));
    assert_eq!(
        outer_log["reference_id"],
        outer.span_context.span_id().to_string()
    );
    assert_eq!(
        inner_log["reference_id"],
        inner.span_context.span_id().to_string()
    );
    assert_eq!(
        inner_log["parent_reference_id"],
        outer.span_context.span_id().to_string()
    );
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    // No explicit session: the trace is the session.
    let trace = outer.span_context.trace_id().to_string();
    assert_eq!(trace.len(), 32);
    assert_eq!(outer_log["session_reference_id"], trace.as_str());
    assert_eq!(inner_log["session_reference_id"], trace.as_str());
    // An explicit session key wins; the reference id is still the span id.
    let in_session = rec.step("in-session");
    assert_eq!(in_session["session_reference_id"], "explicit-key");
    assert_eq!(
        in_session["reference_id"],
        span("in-session").span_context.span_id().to_string()
    );
    rec.assert_causal_order(&[]);
}

#[tokio::test]
async fn otel_layer_first() {
    run(true).await;
}

#[tokio::test]
async fn hierarchy_layer_first() {
    run(false).await;
}
