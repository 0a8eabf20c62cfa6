//! Sessions and steps from the span tree. (Stub: the hierarchy work fills it in.)

use crate::api::JsonMap;

/// What an LLM call's log needs from the span tree around it.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallContext {
    /// The nearest session's key, or one derived from the trace.
    pub session_reference_id: Option<String>,
    /// The `reference_id` of the nearest enclosing step.
    pub parent_reference_id: Option<String>,
    /// This call's own reference id (from its span id, or a UUID).
    pub reference_id: String,
    /// Per-span `humanloop.save` override.
    pub save: Option<bool>,
    /// Per-span `humanloop.metadata.*`, nearest wins.
    pub metadata: JsonMap,
    /// False when the session was sampled out: no log, no content.
    pub sampled: bool,
}

/// The context of the LLM call whose span is `span`.
pub(crate) fn call_context(span: &tracing::Span) -> CallContext {
    let _ = span;
    CallContext {
        reference_id: uuid::Uuid::new_v4().to_string(),
        sampled: true,
        ..CallContext::default()
    }
}
