//! Across services: service A injects its session and current step into the request
//! (`hierarchy::inject`), service B extracts them with `hierarchy::ExtractLayer`; the step B
//! logs while handling the request lands in A's session, under A's step. Two axum services
//! on loopback, each with its own `Humanloop` and subscriber (B on its own thread).

use crate::harness::endpoint::handle;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use axum::routing::post;
use humanloop_tracing::{hierarchy, session, step, Humanloop};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

async fn b_handler() -> &'static str {
    async {
        tokio::task::yield_now().await;
    }
    .instrument(step("b-step"))
    .await;
    "ok"
}

/// Start service B on its own thread with its own subscriber; returns its URL and handle.
fn start_b(
    config: humanloop_tracing::Config,
    with_otel: bool,
) -> (String, Humanloop, Option<Otel>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let hl = Humanloop::new(config).unwrap();
        let (otel, _guard) = subscriber(&hl, with_otel);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/work", post(b_handler))
                .layer(hierarchy::ExtractLayer::new());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/work", listener.local_addr().unwrap());
            tx.send((url, hl, otel)).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Install a subscriber for this thread: the hierarchy layer, and an OpenTelemetry layer
/// with an in-memory exporter when asked.
#[allow(unused_variables)]
fn subscriber(
    hl: &Humanloop,
    with_otel: bool,
) -> (Option<Otel>, tracing::subscriber::DefaultGuard) {
    #[cfg(feature = "otel")]
    if with_otel {
        use opentelemetry::trace::TracerProvider as _;
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let guard = tracing_subscriber::registry()
            .with(hl.tracing_layer())
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .set_default();
        return (Some(Otel { provider, exporter }), guard);
    }
    let guard = tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .set_default();
    (None, guard)
}

#[cfg(feature = "otel")]
#[derive(Clone)]
struct Otel {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    exporter: opentelemetry_sdk::trace::InMemorySpanExporter,
}
#[cfg(not(feature = "otel"))]
#[derive(Clone)]
struct Otel;

async fn call_b(url: &str) {
    let mut headers = http::HeaderMap::new();
    hierarchy::inject(&mut headers);
    assert!(headers.contains_key("baggage"));
    let resp = reqwest::Client::new()
        .post(url)
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn b_joins_a_session_under_a_step() {
    let rec = Recorder::start().await;
    let (b_url, hl_b, _) = start_b(rec.config().build().unwrap(), false);
    let hl_a = handle(rec.config());
    let (_, _guard) = subscriber(&hl_a, false);

    async {
        async { call_b(&b_url).await }
            .instrument(step("a-step"))
            .await;
    }
    .instrument(session("trip-7"))
    .await;

    hl_a.shutdown(Duration::from_secs(10)).await.unwrap();
    hl_b.shutdown(Duration::from_secs(10)).await.unwrap();

    let a = rec.step("a-step");
    let b = rec.step("b-step");
    assert_eq!(a["session_reference_id"], "trip-7");
    assert_eq!(b["session_reference_id"], "trip-7");
    assert_eq!(b["parent_reference_id"], a["reference_id"]);
    // B's exporter assumes the remote parent is logged; everything else is in order.
    rec.assert_causal_order(&[a["reference_id"].as_str().unwrap()]);
}

#[cfg(feature = "otel")]
#[tokio::test]
async fn with_otel_b_joins_a_trace_and_its_default_session() {
    let rec = Recorder::start().await;
    let (b_url, hl_b, otel_b) = start_b(rec.config().build().unwrap(), true);
    let otel_b = otel_b.unwrap();
    let hl_a = handle(rec.config());
    let (otel, guard) = subscriber(&hl_a, true);
    let otel = otel.unwrap();

    async { call_b(&b_url).await }
        .instrument(step("a-step"))
        .await;

    drop(guard);
    hl_a.shutdown(Duration::from_secs(10)).await.unwrap();
    hl_b.shutdown(Duration::from_secs(10)).await.unwrap();
    otel.provider.force_flush().unwrap();
    let spans = otel.exporter.get_finished_spans().unwrap();
    let a_span = spans.iter().find(|s| s.name == "a-step").unwrap();
    let trace = a_span.span_context.trace_id().to_string();
    // B's spans continue A's trace (traceparent), its step under A's step's span.
    otel_b.provider.force_flush().unwrap();
    let b_spans = otel_b.exporter.get_finished_spans().unwrap();
    let b_span = b_spans.iter().find(|s| s.name == "b-step").unwrap();
    assert_eq!(
        b_span.span_context.trace_id(),
        a_span.span_context.trace_id()
    );
    let remote = b_spans
        .iter()
        .find(|s| s.name == "humanloop.remote")
        .unwrap();
    assert_eq!(remote.parent_span_id, a_span.span_context.span_id());

    let a = rec.step("a-step");
    let b = rec.step("b-step");
    assert_eq!(a["reference_id"], a_span.span_context.span_id().to_string());
    assert_eq!(a["session_reference_id"], trace.as_str());
    assert_eq!(
        b["session_reference_id"],
        trace.as_str(),
        "one trace, one session"
    );
    assert_eq!(b["parent_reference_id"], a["reference_id"]);
    rec.assert_causal_order(&[a["reference_id"].as_str().unwrap()]);
}
