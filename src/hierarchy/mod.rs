//! Sessions and steps from the span tree.
//!
//! The endpoint groups logs into **sessions** (one conversation, one agent run) and, inside a
//! session, a tree of datapoints: **steps** (non-LLM work: an agent step, a tool run) with
//! LLM calls and further steps below them. This module reads that structure off ordinary
//! `tracing` spans:
//!
//! | span | means |
//! |---|---|
//! | [`session(key)`](session), or any span with `humanloop.session = "…"` | a session; without one the trace is the session |
//! | [`step(name)`](step), or any span with `humanloop.step = "…"` | a step, logged when first entered, patched when closed |
//! | `humanloop.inputs.NAME = …` | a step input |
//! | `humanloop.output` (recorded later with `span.record`, or [`record_output`], or `#[instrument(ret)]`) | the step's output |
//! | `humanloop.error` or `error` (or `#[instrument(err)]`) | the step's error |
//! | `humanloop.metadata.NAME = …` | metadata of the logs at and below this span (nearest wins) |
//! | `humanloop.save = false` | do not store payloads of the logs at and below this span |
//! | anything else | skipped over |
//!
//! Install [`Humanloop::tracing_layer`](crate::Humanloop::tracing_layer) in the subscriber,
//! beside `tracing_opentelemetry::layer()` or not, in any order.
//!
//! ```no_run
//! use tracing::Instrument;
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let hl = humanloop_tracing::Humanloop::from_env()?;
//! tracing_subscriber::registry().with(hl.tracing_layer()).init();
//!
//! #[tracing::instrument(fields(humanloop.step = "search", humanloop.output))]
//! async fn search(query: &str) -> String {
//!     let hits = format!("results for {query}");
//!     tracing::Span::current().record("humanloop.output", hits.as_str());
//!     hits
//! }
//!
//! async {
//!     search("flights to Lisbon").await;
//! }
//! .instrument(humanloop_tracing::session("conversation-42"))
//! .await;
//! hl.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
//!
//! Reference ids are OpenTelemetry span ids (hex) when an OpenTelemetry layer runs (feature
//! `otel`), so a log and its span name each other; UUIDs otherwise. A session without an
//! explicit key is named after the trace id. Sessions are sampled whole
//! ([`ConfigBuilder::sample_ratio`](crate::ConfigBuilder::sample_ratio)), decided from the
//! session key, so every service joining a session decides the same way.
//!
//! Across services, [`inject`] and [`ExtractLayer`] (or [`extract`]) carry the session and
//! the parent step in W3C `baggage`.

mod context;
mod instrument;
mod kinds;
mod layer;
#[cfg(feature = "otel")]
mod otel;
mod propagation;
mod sampling;

use serde_json::Value;

use crate::api::JsonMap;

pub use instrument::{HierarchyExt, InSpan};
pub use kinds::{agent, tool};
pub use layer::HierarchyLayer;
pub use propagation::{
    extract, inject, inject_from, RemoteContext, BAGGAGE_PARENT, BAGGAGE_SESSION,
};
#[cfg(feature = "tower")]
pub use propagation::{ExtractLayer, ExtractService};

use layer::SpanData;

/// `traceparent` for `sc` (feature `otel`).
#[cfg(feature = "otel")]
pub(crate) fn traceparent_of(sc: &opentelemetry::trace::SpanContext) -> String {
    otel::traceparent(sc)
}

/// A session span: everything inside it belongs to the session `key` (the endpoint's
/// `session_reference_id`).
///
/// ```
/// let span = humanloop_tracing::session("conversation-42");
/// let _guard = span.enter();
/// ```
pub fn session(key: impl AsRef<str>) -> tracing::Span {
    kinds::session_span(key.as_ref())
}

/// A step span named `name`: logged (a `tool` datapoint) when first entered, patched with its
/// output, error and duration when it closes. Record the output with [`record_output`] or
/// `span.record("humanloop.output", …)`.
///
/// ```
/// use tracing::Instrument;
/// # async fn demo() {
/// async { /* run a tool */ }
///     .instrument(humanloop_tracing::step("search"))
///     .await;
/// # }
/// ```
pub fn step(name: impl AsRef<str>) -> tracing::Span {
    let name = name.as_ref();
    let span = kinds::agent_span(name, name);
    instrument::warn_if_outside_session(&span);
    span
}

fn with_data(span: &tracing::Span, f: impl FnOnce(&mut SpanData)) {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span_ref = tracing_subscriber::registry::LookupSpan::span(registry, id)?;
        let mut ext = span_ref.extensions_mut();
        f(ext.get_mut::<SpanData>()?);
        Some(())
    });
}

/// The configuration of the layer that annotated `span`, when content goes on spans.
fn capturing(span: &tracing::Span) -> Option<std::sync::Arc<layer::Shared>> {
    let mut shared = None;
    with_data(span, |d| shared = Some(d.shared.clone()));
    shared.filter(|s| s.config.capture_content())
}

/// Set the output of the step `span` (sent when it closes). Does nothing for spans that
/// are not steps or when no hierarchy layer runs. With content capture on, the span
/// carries it too (see [`tool`] and [`agent`]); a session span takes it as its preview.
pub fn record_output(span: &tracing::Span, output: impl Into<String>) {
    let output = output.into();
    // No extension lock held while recording: the OpenTelemetry layer takes it too.
    if let Some(shared) = capturing(span) {
        crate::semconv::record_step_output(span, &output, &shared.config);
    }
    with_data(span, |d| d.output = Some(output));
}

/// Set the error of the step `span` (sent when it closes); the span gets status error
/// and `error.type = _OTHER`.
pub fn record_error(span: &tracing::Span, error: impl std::fmt::Display) {
    let error = error.to_string();
    crate::semconv::record_error_type(span, crate::semconv::ERROR_OTHER);
    with_data(span, |d| d.error = Some(error));
}

/// Add an input to the step `span`. Inputs are sent when the step is logged, at its first
/// enter: record them before. With content capture on, the span carries them too, from
/// that first enter (see [`tool`] and [`agent`]); a session span takes them as its preview.
pub fn record_input(span: &tracing::Span, name: impl Into<String>, value: impl Into<Value>) {
    let (name, value) = (name.into(), value.into());
    with_data(span, |d| {
        d.inputs.insert(name, value);
    });
}

/// Add metadata to the logs at and below `span` made from now on.
pub fn record_metadata(span: &tracing::Span, name: impl Into<String>, value: impl Into<Value>) {
    let (name, value) = (name.into(), value.into());
    with_data(span, |d| {
        d.metadata.insert(name, value);
    });
}

/// What an LLM call's log needs from the span tree around it.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallContext {
    /// The nearest session's key, or one derived from the trace.
    pub session_reference_id: Option<String>,
    /// The session key was named (a session span, baggage), not derived from the trace.
    pub session_named: bool,
    /// The `reference_id` of the nearest enclosing step.
    pub parent_reference_id: Option<String>,
    /// This call's own reference id (from its span id, or a UUID), formatted when the
    /// log is built, off the caller's thread.
    pub reference_id: context::RefId,
    /// Per-span `humanloop.save` override (nearest wins).
    pub save: Option<bool>,
    /// Per-span `humanloop.metadata.*`, nearest wins.
    pub metadata: JsonMap,
    /// False when the session was sampled out: no log, no content.
    pub sampled: bool,
}

/// The context of the LLM call whose span is `span`. Without a hierarchy layer (or for a
/// disabled span): no session, no parent, sampled, and a reference id of its own.
pub(crate) fn call_context(span: &tracing::Span) -> CallContext {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span_ref = tracing_subscriber::registry::LookupSpan::span(registry, id)?;
        // One look at the OpenTelemetry span context serves the call's id and the trace's
        // default session.
        #[cfg(feature = "otel")]
        let sc = otel::span_context(id, dispatch);
        #[cfg(feature = "otel")]
        let (reference_id, trace) = match &sc {
            Some(sc) => (context::RefId::Span(sc.span_id()), Some(sc.trace_id())),
            None => (context::RefId::Uuid(uuid::Uuid::new_v4()), None),
        };
        #[cfg(not(feature = "otel"))]
        let reference_id = context::ref_id(id, dispatch);
        let resolved = context::resolve_with(&span_ref, dispatch, false, || {
            #[cfg(feature = "otel")]
            return trace.map(otel::trace_id_hex);
            #[cfg(not(feature = "otel"))]
            None
        });
        Some(CallContext {
            sampled: resolved.sampled(),
            session_named: resolved.session_named,
            session_reference_id: resolved.session,
            parent_reference_id: resolved.parent,
            reference_id,
            save: resolved.save,
            metadata: resolved.metadata,
        })
    })
    .flatten()
    .unwrap_or_else(|| CallContext {
        reference_id: context::RefId::Uuid(uuid::Uuid::new_v4()),
        sampled: true,
        ..CallContext::default()
    })
}
