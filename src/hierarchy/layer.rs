//! The `tracing_subscriber::Layer` that turns spans into sessions and steps.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde_json::Value;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::context;
use crate::api::{JsonMap, UpdateLogRequest};
use crate::config::Config;
use crate::export::{ExportRecord, Submitter};

/// What the layer shares with every span it annotates.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) exporter: Submitter,
}

/// The step's log, as far as it got.
pub(crate) enum StepLog {
    /// Not logged yet: it is logged at its first enter (or when a child needs it).
    Pending,
    /// Logged with `reference_id` at `started`; `content` says whether the patch may carry
    /// the output (save and log_content allowed it).
    Logged {
        reference_id: String,
        started: Instant,
        content: bool,
    },
    /// Not logged (sampled out, dropped by `on_log`, or no exporter): children skip over it.
    Skipped,
}

/// What a span with `humanloop.*` fields carries (a span extension).
pub(crate) struct SpanData {
    pub(crate) session: Option<String>,
    pub(crate) step: Option<String>,
    /// A parent step in another process (from propagation).
    pub(crate) remote_parent: Option<String>,
    pub(crate) inputs: JsonMap,
    pub(crate) metadata: JsonMap,
    pub(crate) save: Option<bool>,
    pub(crate) output: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) log: StepLog,
    pub(crate) shared: Arc<Shared>,
}

/// The extension of every root span: the default session key of its trace where no
/// OpenTelemetry layer gives one, and the layer's configuration.
pub(crate) struct RootData {
    pub(crate) key: OnceLock<String>,
    pub(crate) shared: Arc<Shared>,
}

/// Maps the span tree onto sessions and steps. Get one with
/// [`Humanloop::tracing_layer`](crate::Humanloop::tracing_layer).
///
/// * A span with a `humanloop.session` field (or [`session`](crate::session)) is a session;
///   LLM calls and steps inside it carry its key as `session_reference_id`. Without one, the
///   trace is the session.
/// * A span with a `humanloop.step` field (or [`step`](crate::step)) is a step: logged when
///   it is first entered (a `tool` config with the step's name, its `humanloop.inputs.*`,
///   `humanloop.metadata.*`), patched when it closes (`humanloop.output`, `humanloop.error`
///   or `error`, duration).
/// * Other spans are skipped over. It works with or without `tracing_opentelemetry::layer()`
///   beside it, in either order; with one, reference ids are OpenTelemetry span ids.
///
/// When the configuration says `enabled = false`, the layer does nothing.
pub struct HierarchyLayer {
    shared: Option<Arc<Shared>>,
    dispatch: OnceLock<WeakDispatch>,
}

impl std::fmt::Debug for HierarchyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HierarchyLayer")
            .field("enabled", &self.shared.is_some())
            .finish()
    }
}

impl HierarchyLayer {
    pub(crate) fn new(config: &Config, exporter: Submitter) -> Self {
        HierarchyLayer {
            shared: config.enabled().then(|| {
                Arc::new(Shared {
                    config: config.clone(),
                    exporter,
                })
            }),
            dispatch: OnceLock::new(),
        }
    }

    fn with_dispatch<T>(&self, f: impl FnOnce(&Dispatch) -> T) -> T {
        match self.dispatch.get().and_then(WeakDispatch::upgrade) {
            Some(d) => f(&d),
            None => {
                let mut f = Some(f);
                tracing::dispatcher::get_default(|d| f.take().map(|f| f(d)))
                    .expect("get_default calls its closure once")
            }
        }
    }
}

fn has_humanloop_fields(fields: &tracing::field::FieldSet) -> bool {
    fields.iter().any(|f| f.name().starts_with("humanloop."))
}

impl<S> tracing_subscriber::Layer<S> for HierarchyLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(shared) = &self.shared else { return };
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if span.parent().is_none() {
            ext.insert(RootData {
                key: OnceLock::new(),
                shared: shared.clone(),
            });
        }
        if has_humanloop_fields(attrs.metadata().fields()) {
            let mut data = SpanData {
                session: None,
                step: None,
                remote_parent: None,
                inputs: JsonMap::new(),
                metadata: JsonMap::new(),
                save: None,
                output: None,
                error: None,
                log: StepLog::Pending,
                shared: shared.clone(),
            };
            attrs.record(&mut FieldVisitor(&mut data));
            ext.insert(data);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if self.shared.is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(data) = ext.get_mut::<SpanData>() {
            values.record(&mut FieldVisitor(data));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.shared.is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let pending_step = span
            .extensions()
            .get::<SpanData>()
            .is_some_and(|d| d.step.is_some() && matches!(d.log, StepLog::Pending));
        if pending_step {
            // Every layer's on_new_span (the OpenTelemetry one included) has run by now.
            self.with_dispatch(|dispatch| context::ensure_step_logged(&span, dispatch));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.shared.is_none() {
            return;
        }
        // `#[instrument(ret, err)]` report a step's result as an event inside it.
        let fields = event.metadata().fields();
        if fields.field("return").is_none() && fields.field("error").is_none() {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(data) = ext.get_mut::<SpanData>() {
            if data.step.is_some() {
                event.record(&mut EventVisitor(data));
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if self.shared.is_none() {
            return;
        }
        let Some(span) = ctx.span(&id) else { return };
        let mut ext = span.extensions_mut();
        let Some(data) = ext.get_mut::<SpanData>() else {
            return;
        };
        let StepLog::Logged {
            reference_id,
            started,
            content,
        } = std::mem::replace(&mut data.log, StepLog::Skipped)
        else {
            return;
        };
        let config = &data.shared.config;
        let mut update = UpdateLogRequest {
            duration: Some(started.elapsed().as_secs_f64()),
            ..UpdateLogRequest::default()
        };
        if content {
            update.output = data.output.take().map(|mut s| {
                config.redact_text(&mut s);
                s
            });
        }
        update.error = data.error.take().map(|mut s| {
            config.redact_text(&mut s);
            s
        });
        let exporter = data.shared.exporter.clone();
        drop(ext);
        exporter.submit(ExportRecord::Update {
            reference_id,
            update,
        });
    }
}

fn value_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Reads `humanloop.*` (and `error`) fields into a span's data.
struct FieldVisitor<'a>(&'a mut SpanData);

impl FieldVisitor<'_> {
    fn set(&mut self, name: &str, value: Value) {
        let d = &mut *self.0;
        match name {
            "humanloop.session" => {
                let key = value_string(value);
                d.session = (!key.is_empty()).then_some(key);
            }
            "humanloop.step" => d.step = Some(value_string(value)),
            "humanloop.parent_reference_id" => {
                let r = value_string(value);
                d.remote_parent = (!r.is_empty()).then_some(r);
            }
            "humanloop.save" => {
                d.save = match value {
                    Value::Bool(b) => Some(b),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                }
            }
            "humanloop.output" => d.output = Some(value_string(value)),
            "humanloop.error" | "error" => d.error = Some(value_string(value)),
            _ => {
                if let Some(key) = name.strip_prefix("humanloop.inputs.") {
                    d.inputs.insert(key.to_owned(), value);
                } else if let Some(key) = name.strip_prefix("humanloop.metadata.") {
                    d.metadata.insert(key.to_owned(), value);
                }
            }
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), Value::String(value.to_string()));
    }
}

/// Reads the `return` and `error` fields of `#[instrument(ret, err)]` events.
struct EventVisitor<'a>(&'a mut SpanData);

impl EventVisitor<'_> {
    fn set(&mut self, name: &str, value: String) {
        match name {
            "return" if self.0.output.is_none() => self.0.output = Some(value),
            "error" if self.0.error.is_none() => self.0.error = Some(value),
            _ => {}
        }
    }
}

impl Visit for EventVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), value.to_string());
    }
}
