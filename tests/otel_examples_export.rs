//! The examples' OTLP setup (`examples/support/otlp.rs`), against loopback OTLP/HTTP
//! receivers: the signal-specific `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` alone exports; a
//! backend answering 422 is reported and counted; a backend that never answers does not
//! hold the shutdown past its deadline, and does not fail it.

#[path = "../examples/support/otlp.rs"]
mod otlp;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// A receiver answering `status` after `delay`; counts the spans it decoded.
async fn receiver(status: StatusCode, delay: Duration) -> (String, Arc<AtomicUsize>) {
    let spans = Arc::new(AtomicUsize::new(0));
    let seen = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let seen = seen.clone();
            async move {
                tokio::time::sleep(delay).await;
                if let Ok(req) = ExportTraceServiceRequest::decode(body) {
                    let n: usize = req
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum();
                    seen.fetch_add(n, Ordering::SeqCst);
                }
                (status, "")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1/traces"), spans)
}

fn emit(otlp: &otlp::Otlp, n: usize) {
    let tracer = otlp.provider.tracer("otlp-test");
    for i in 0..n {
        tracer.in_span(format!("span {i}"), |_| {});
    }
}

async fn shutdown(otlp: otlp::Otlp, deadline: Duration) -> (bool, Duration) {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let ok = otlp.shutdown(deadline);
        (ok, started.elapsed())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signal_specific_endpoint_alone_exports() {
    let (url, received) = receiver(StatusCode::OK, Duration::ZERO).await;
    std::env::remove_var(otlp::ENDPOINT);
    std::env::set_var(otlp::TRACES_ENDPOINT, &url);
    let built = otlp::Otlp::build(
        opentelemetry_sdk::trace::SdkTracerProvider::builder(),
        "otlp-test",
        None,
    );
    std::env::remove_var(otlp::TRACES_ENDPOINT);
    let otlp = built.unwrap();
    assert_eq!(otlp.endpoint.as_deref(), Some(url.as_str()));
    emit(&otlp, 3);
    let counts = otlp.counts.clone();
    let (ok, _) = shutdown(otlp, Duration::from_secs(5)).await;
    assert!(ok);
    assert_eq!(received.load(Ordering::SeqCst), 3);
    assert_eq!(counts.sent_spans.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_export_is_reported() {
    let (url, _) = receiver(StatusCode::UNPROCESSABLE_ENTITY, Duration::ZERO).await;
    let otlp = otlp::Otlp::build(
        opentelemetry_sdk::trace::SdkTracerProvider::builder(),
        "otlp-test",
        Some(url),
    )
    .unwrap();
    emit(&otlp, 2);
    let counts = otlp.counts.clone();
    let (ok, _) = shutdown(otlp, Duration::from_secs(5)).await;
    assert!(!ok, "a 422 must not pass for delivered");
    assert_eq!(counts.failed_spans.load(Ordering::SeqCst), 2);
    assert_eq!(counts.sent_spans.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_never_answers_does_not_hold_the_shutdown() {
    let (url, _) = receiver(StatusCode::OK, Duration::from_secs(3600)).await;
    let otlp = otlp::Otlp::build(
        opentelemetry_sdk::trace::SdkTracerProvider::builder(),
        "otlp-test",
        Some(url),
    )
    .unwrap();
    emit(&otlp, 1);
    let (ok, took) = shutdown(otlp, Duration::from_millis(500)).await;
    assert!(!ok);
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}
