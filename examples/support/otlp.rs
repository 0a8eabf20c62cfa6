//! OTLP/HTTP (protobuf) export for the examples, configured the standard way:
//!
//! * on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used verbatim, e.g.
//!   `http://127.0.0.1:6006/v1/traces`) or `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` is
//!   appended) is set; `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `_HEADERS` and `_TIMEOUT`
//!   are read by the exporter itself;
//! * every failed export is reported on stderr (a backend answering 422, say) and counted;
//! * [`Otlp::shutdown`] gives the exporter a deadline and reports what it could not send,
//!   without failing a run whose work succeeded.
#![allow(dead_code)] // each example uses part of it

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter, TracerProviderBuilder};
use opentelemetry_sdk::Resource;

/// The signal-specific endpoint variable.
pub const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The generic endpoint variable.
pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where spans go, as the exporter resolves it: the signal-specific variable verbatim,
/// else the generic one with `/v1/traces`; `None` when neither is set.
pub fn configured_endpoint() -> Option<String> {
    var(TRACES_ENDPOINT)
        .or_else(|| var(ENDPOINT).map(|base| format!("{}/v1/traces", base.trim_end_matches('/'))))
}

/// Counts of a pipeline's exports.
#[derive(Debug, Default)]
pub struct ExportCounts {
    /// Spans in exports that failed.
    pub failed_spans: AtomicU64,
    /// Exports that failed.
    pub failed_exports: AtomicU64,
    /// Spans exported.
    pub sent_spans: AtomicU64,
}

/// A span exporter that says when an export fails.
#[derive(Debug)]
pub struct Reporting<E> {
    inner: E,
    counts: Arc<ExportCounts>,
    endpoint: String,
}

impl<E: SpanExporter> SpanExporter for Reporting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                self.counts.sent_spans.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                self.counts.failed_exports.fetch_add(1, Ordering::Relaxed);
                self.counts.failed_spans.fetch_add(n, Ordering::Relaxed);
                eprintln!(
                    "OTLP: exporting {n} span(s) to {} failed: {e}",
                    self.endpoint
                );
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A tracer provider with the OTLP exporter (when configured) behind a batch processor.
pub struct Otlp {
    /// The provider: get tracers from it.
    pub provider: SdkTracerProvider,
    /// Where spans go, when OTLP is on.
    pub endpoint: Option<String>,
    /// What the exporter did.
    pub counts: Arc<ExportCounts>,
}

impl Otlp {
    /// `builder` (with the processors of your own) plus OTLP to
    /// [`configured_endpoint`], or to `endpoint` when given (an example's own receiver).
    pub fn build(
        builder: TracerProviderBuilder,
        service: &'static str,
        endpoint: Option<String>,
    ) -> Result<Otlp, Box<dyn std::error::Error + Send + Sync>> {
        // reqwest is built with rustls and no default crypto provider: an example picks ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let counts = Arc::new(ExportCounts::default());
        let endpoint = endpoint.or_else(configured_endpoint);
        let mut builder =
            builder.with_resource(Resource::builder().with_service_name(service).build());
        if let Some(url) = &endpoint {
            use opentelemetry_otlp::{Protocol, WithExportConfig};
            let mut otlp = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary);
            // Only an explicit endpoint is set here: the environment's is the exporter's
            // own to read (signal-specific variable first), headers and timeout included.
            if configured_endpoint().as_deref() != Some(url.as_str()) {
                otlp = otlp.with_endpoint(url.clone());
            }
            let exporter = Reporting {
                inner: otlp.build()?,
                counts: counts.clone(),
                endpoint: url.clone(),
            };
            builder = builder.with_batch_exporter(exporter);
        }
        Ok(Otlp {
            provider: builder.build(),
            endpoint,
            counts,
        })
    }

    /// Flush and shut down within `deadline`. A backend slower than that, or one that
    /// refused spans, is reported on stderr; the run still succeeds (its work is done).
    /// Returns whether every span was delivered.
    pub fn shutdown(self, deadline: Duration) -> bool {
        let Otlp {
            provider,
            endpoint,
            counts,
        } = self;
        // The SDK's shutdown blocks its caller: give it a thread and stop waiting at the
        // deadline.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(provider.shutdown_with_timeout(deadline));
        });
        let outcome = rx.recv_timeout(deadline + Duration::from_millis(500));
        let failed = counts.failed_spans.load(Ordering::Relaxed);
        let Some(endpoint) = endpoint else {
            return true;
        };
        let ok = match outcome {
            Ok(Ok(())) => failed == 0,
            Ok(Err(e)) => {
                eprintln!("OTLP: shutting down the exporter for {endpoint}: {e}");
                false
            }
            Err(_) => {
                eprintln!(
                    "OTLP: {endpoint} did not take the last spans within {deadline:?}; not waiting longer"
                );
                false
            }
        };
        let sent = counts.sent_spans.load(Ordering::Relaxed);
        if ok {
            println!("OTLP: {sent} span(s) sent to {endpoint}");
        } else {
            eprintln!(
                "OTLP: {sent} span(s) sent to {endpoint}, {failed} failed to export: delivery incomplete"
            );
        }
        ok
    }
}
