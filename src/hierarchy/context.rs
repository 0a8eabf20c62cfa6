//! Walking the span tree: the session, the parent step and the reference ids of a span.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;
use tracing::span::Id;
use tracing::Dispatch;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::layer::{RootData, Shared, SpanData, StepLog};
use super::sampling::session_sampled;
use crate::api::{JsonMap, LogConfig, LogRequest, ToolConfig};
use crate::config::Config;
use crate::export::ExportRecord;

/// What the span tree above a span says.
pub(crate) struct Resolved {
    pub(crate) session: Option<String>,
    /// `session` was named by a span (or baggage), not derived from the trace.
    pub(crate) session_named: bool,
    pub(crate) parent: Option<String>,
    pub(crate) save: Option<bool>,
    pub(crate) metadata: JsonMap,
    pub(crate) shared: Option<Arc<Shared>>,
}

impl Resolved {
    pub(crate) fn sampled(&self) -> bool {
        match (&self.shared, &self.session) {
            (Some(shared), Some(key)) => session_sampled(key, shared.config.sample_ratio),
            _ => true,
        }
    }
}

/// This span's own reference id: its OpenTelemetry span id (hex) where an OpenTelemetry
/// layer runs, a UUID otherwise.
pub(crate) fn reference_id(id: &Id, dispatch: &Dispatch) -> String {
    ref_id(id, dispatch).into_string()
}

/// A reference id not yet formatted: an LLM call's is formatted when its log is built, on
/// the exporter's thread.
#[derive(Clone, Debug)]
pub(crate) enum RefId {
    Uuid(uuid::Uuid),
    #[cfg(feature = "otel")]
    Span(opentelemetry::trace::SpanId),
}

impl Default for RefId {
    fn default() -> Self {
        RefId::Uuid(uuid::Uuid::nil())
    }
}

impl RefId {
    /// The id as the log carries it.
    pub(crate) fn into_string(self) -> String {
        match self {
            RefId::Uuid(u) => u.to_string(),
            #[cfg(feature = "otel")]
            RefId::Span(s) => s.to_string(),
        }
    }
}

/// [`reference_id`], unformatted.
pub(crate) fn ref_id(id: &Id, dispatch: &Dispatch) -> RefId {
    #[cfg(feature = "otel")]
    if let Some(sc) = super::otel::span_context(id, dispatch) {
        return RefId::Span(sc.span_id());
    }
    let _ = (id, dispatch);
    RefId::Uuid(uuid::Uuid::new_v4())
}

/// Walk from `span` to the root: nearest session, nearest enclosing step (logging it first
/// if it was never entered; `skip_self` when `span` is the step being logged), nearest
/// `save` and metadata. Steps not logged (sampled out, dropped) are skipped over; the
/// parent search stops at the session boundary.
pub(crate) fn resolve<'a, R>(
    span: &SpanRef<'a, R>,
    dispatch: &Dispatch,
    skip_self: bool,
) -> Resolved
where
    R: LookupSpan<'a>,
{
    resolve_with(span, dispatch, skip_self, || {
        default_session(span.id(), dispatch)
    })
}

/// [`resolve`], with the trace's default session key (its trace id) from `default_session`
/// when it is needed: a caller that already holds the span context passes it.
pub(crate) fn resolve_with<'a, R>(
    span: &SpanRef<'a, R>,
    dispatch: &Dispatch,
    skip_self: bool,
    default_session: impl FnOnce() -> Option<String>,
) -> Resolved
where
    R: LookupSpan<'a>,
{
    let mut out = Resolved {
        session: None,
        session_named: false,
        parent: None,
        save: None,
        metadata: JsonMap::new(),
        shared: None,
    };
    let mut parent_done = false;
    let mut root_key: Option<String> = None;
    for ancestor in span.scope() {
        let is_self = ancestor.id() == span.id();
        // Look, with the extensions locked only briefly.
        let mut pending_step = false;
        {
            let ext = ancestor.extensions();
            if let Some(d) = ext.get::<SpanData>() {
                if out.shared.is_none() {
                    out.shared = Some(d.shared.clone());
                }
                for (k, v) in &d.metadata {
                    if !out.metadata.contains_key(k) {
                        out.metadata.insert(k.clone(), v.clone());
                    }
                }
                out.save = out.save.or(d.save);
                if !(parent_done || is_self && skip_self) {
                    if d.step.is_some() {
                        match &d.log {
                            StepLog::Logged { reference_id, .. } => {
                                out.parent = Some(reference_id.clone());
                                parent_done = true;
                            }
                            StepLog::Pending => pending_step = true,
                            StepLog::Skipped => {}
                        }
                    } else if let Some(r) = &d.remote_parent {
                        out.parent = Some(r.clone());
                        parent_done = true;
                    }
                }
                if out.session.is_none() {
                    if let Some(s) = &d.session {
                        out.session = Some(s.clone());
                        out.session_named = true;
                    }
                }
            }
            if let Some(root) = ext.get::<RootData>() {
                if out.shared.is_none() {
                    out.shared = Some(root.shared.clone());
                }
                root_key = Some(
                    root.key
                        .get_or_init(|| uuid::Uuid::new_v4().to_string())
                        .clone(),
                );
            }
        }
        if pending_step {
            // A step that was never entered but has a child that needs it: log it now.
            if let Some(r) = ensure_step_logged(&ancestor, dispatch) {
                out.parent = Some(r);
                parent_done = true;
            }
        }
        if out.session.is_some() {
            parent_done = true;
        }
    }
    if out.shared.is_some() && out.session.is_none() {
        out.session = default_session().or(root_key);
    }
    out
}

/// The session key of a trace without an explicit session: its OpenTelemetry trace id.
fn default_session(id: Id, dispatch: &Dispatch) -> Option<String> {
    #[cfg(feature = "otel")]
    if let Some(sc) = super::otel::span_context(&id, dispatch) {
        return Some(super::otel::trace_id_hex(sc.trace_id()));
    }
    let _ = (id, dispatch);
    None
}

/// Log the step `span` if it is one and was not logged yet; its reference id if it is logged.
pub(crate) fn ensure_step_logged<'a, R>(
    span: &SpanRef<'a, R>,
    dispatch: &Dispatch,
) -> Option<String>
where
    R: LookupSpan<'a>,
{
    let (name, inputs, shared) = {
        let ext = span.extensions();
        let d = ext.get::<SpanData>()?;
        match &d.log {
            StepLog::Logged { reference_id, .. } => return Some(reference_id.clone()),
            StepLog::Skipped => return None,
            StepLog::Pending => {}
        }
        (d.step.clone()?, d.inputs.clone(), d.shared.clone())
    };
    // No lock held: the OpenTelemetry layer locks this span's extensions itself.
    let reference_id = reference_id(&span.id(), dispatch);
    let resolved = resolve(span, dispatch, true);
    let config = &shared.config;

    let record = if resolved.sampled() {
        let save = resolved.save.unwrap_or(config.save());
        let content = save && config.log_content();
        let log = step_log(
            config,
            &name,
            &reference_id,
            inputs,
            content,
            save,
            resolved,
        );
        apply_on_log(config, log).map(|log| (log, content))
    } else {
        None
    };

    let mut ext = span.extensions_mut();
    let d = ext.get_mut::<SpanData>()?;
    if !matches!(d.log, StepLog::Pending) {
        // Another thread got there first.
        return match &d.log {
            StepLog::Logged { reference_id, .. } => Some(reference_id.clone()),
            _ => None,
        };
    }
    let Some((log, content)) = record else {
        d.log = StepLog::Skipped;
        return None;
    };
    if !shared.exporter.submit(ExportRecord::Create(Box::new(log))) {
        // Dropped (queue full): children must not name it.
        d.log = StepLog::Skipped;
        return None;
    }
    d.log = StepLog::Logged {
        reference_id: reference_id.clone(),
        started: Instant::now(),
        content,
    };
    Some(reference_id)
}

fn step_log(
    config: &Config,
    name: &str,
    reference_id: &str,
    mut inputs: JsonMap,
    content: bool,
    save: bool,
    resolved: Resolved,
) -> LogRequest {
    let mut metadata = config.log_defaults().metadata.clone();
    metadata.extend(resolved.metadata);
    let inputs = if content && !inputs.is_empty() {
        for v in inputs.values_mut() {
            redact_value(config, v);
        }
        Some(inputs)
    } else {
        None
    };
    let mut log = LogRequest {
        session_reference_id: resolved.session,
        parent_reference_id: resolved.parent,
        reference_id: Some(reference_id.to_owned()),
        config: Some(LogConfig::Tool(ToolConfig::new(name))),
        inputs,
        metadata: (!metadata.is_empty()).then_some(metadata),
        save: Some(save),
        created_at: Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string()),
        ..LogRequest::default()
    };
    config.log_defaults().stamp(&mut log);
    log
}

/// Run the `on_log` hook, containing a panic (the record is then dropped).
fn apply_on_log(config: &Config, mut log: LogRequest) -> Option<LogRequest> {
    match &config.hooks().on_log {
        None => Some(log),
        Some(hook) => crate::hooks::contain("on_log", || hook(&mut log))
            .unwrap_or(false)
            .then_some(log),
    }
}

/// Run the redaction hook on every string inside `value`.
fn redact_value(config: &Config, value: &mut Value) {
    crate::redact::for_each_string(value, &mut |s| {
        config.redact_text(s);
    });
}
