//! The recommended OpenTelemetry setup (feature `otel`), in one call.
//!
//! `tracing_opentelemetry::layer()` adds to every span the source location
//! (`code.file.path`, `code.module.name`, `code.line.number`), the thread (`thread.id`,
//! `thread.name`), the `tracing` target and busy/idle times (`busy_ns`, `idle_ns`). None of
//! it is GenAI, it costs attributes on every span (OpenTelemetry keeps 128 per span) and
//! backends show it as noise. [`layer`] is tracing-opentelemetry's layer with all of that
//! turned off, and nothing else changed: spans keep their names, kinds, status, events
//! and the GenAI attributes.
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let hl = humanloop_tracing::Humanloop::new(
//!     humanloop_tracing::Config::builder().base_url("http://127.0.0.1:9/v4").build().unwrap(),
//! ).unwrap();
//! let subscriber = tracing_subscriber::registry()
//!     .with(hl.tracing_layer())
//!     .with(humanloop_tracing::otel::layer(provider.tracer("my-service")));
//! # drop(subscriber);
//! ```

use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

/// tracing-opentelemetry's layer for `tracer` without location, thread, target and
/// busy/idle attributes (see the [module](self) docs). Further builder settings still
/// apply to what it returns, e.g. `.with_location(true)` to have locations back.
pub fn layer<S, T>(tracer: T) -> OpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    configure(OpenTelemetryLayer::new(tracer))
}

/// Apply the recommended settings to a layer built elsewhere (for one with settings of
/// your own, or a tracer type `layer` does not take).
pub fn configure<S, T>(layer: OpenTelemetryLayer<S, T>) -> OpenTelemetryLayer<S, T>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    T: opentelemetry::trace::Tracer + 'static,
    T::Span: Send + Sync,
{
    layer
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
}
