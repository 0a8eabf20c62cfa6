//! `humanloop_tracing::otel::layer` is tracing-opentelemetry's layer without the noise it
//! adds to every span by default (`code.*`, `thread.*`, `target`, `busy_ns`, `idle_ns`),
//! and with everything GenAI intact. The default layer, side by side, shows the noise
//! (so the check can fail).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const NOISE: [&str; 8] = [
    "code.file.path",
    "code.module.name",
    "code.line.number",
    "thread.id",
    "thread.name",
    "target",
    "busy_ns",
    "idle_ns",
];

async fn spans(recommended: bool) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("noise");
    let layer = if recommended {
        humanloop_tracing::otel::layer(tracer)
    } else {
        tracing_opentelemetry::layer().with_tracer(tracer)
    };
    let subscriber = tracing_subscriber::registry().with(layer);
    let _guard = tracing::subscriber::set_default(subscriber);
    async {
        async {}.instrument(humanloop_tracing::tool("search")).await;
    }
    .instrument(humanloop_tracing::session("noise-session"))
    .await;
    let _ = provider.force_flush();
    exporter.get_finished_spans().unwrap()
}

fn keys(span: &SpanData) -> Vec<&str> {
    span.attributes.iter().map(|kv| kv.key.as_str()).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn the_recommended_layer_drops_location_thread_and_timing_attributes() {
    let plain = spans(false).await;
    let recommended = spans(true).await;
    assert_eq!(plain.len(), 2);
    assert_eq!(recommended.len(), 2);
    for span in &plain {
        for key in NOISE {
            // thread.name is absent on unnamed threads; the rest are always there.
            if key != "thread.name" {
                assert!(
                    keys(span).contains(&key),
                    "default layer: no {key} on {}",
                    span.name
                );
            }
        }
    }
    for span in &recommended {
        for key in NOISE {
            assert!(!keys(span).contains(&key), "{key} on {}", span.name);
        }
        assert!(keys(span).contains(&"gen_ai.operation.name"), "{span:#?}");
    }
    let tool = recommended
        .iter()
        .find(|s| s.name == "execute_tool search")
        .unwrap();
    assert!(keys(tool).contains(&"gen_ai.tool.name"));
    assert_eq!(tool.span_kind, opentelemetry::trace::SpanKind::Internal);
}
