//! Completion calls through the endpoint belong to the caller's span tree: each gets a
//! GenAI client span (`chat {model_config_id}`, provider `humanloop`), and a call made
//! inside a session or step carries that session and parent, so the endpoint files the
//! datapoint it creates where the caller's own logs are.
//!
//! The endpoint logs these calls itself, so no log is exported for them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tracing::Span;

use crate::api::{CompletionModelConfigRequest, CompletionResponse};
use crate::error::Error;
use crate::semconv;

/// Waits until the exporter has delivered what is queued (bounded by its own timeout), so
/// a parent step logged by the exporter exists before a request names it (SPEC: a
/// `parent_reference_id` must name a datapoint logged in an earlier request).
pub(crate) type ParentBarrier =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The span of one completion call (see [`semconv::completion`]).
pub(crate) fn completion_span(base: &url::Url, req: &CompletionModelConfigRequest) -> Span {
    semconv::completion::span(base, req)
}

/// The request with the session and parent of the span tree filled in where the caller
/// named none; `true` when a parent was taken from the span tree.
pub(crate) fn with_hierarchy(
    req: &CompletionModelConfigRequest,
    span: &Span,
    config: Option<&crate::Config>,
) -> (CompletionModelConfigRequest, bool) {
    let mut req = req.clone();
    let ctx = crate::hierarchy::call_context(span);
    let profile = config.map(crate::Config::semconv_profile).unwrap_or_default();
    // A session the caller named in the request is named; else the span tree's.
    let explicit = req
        .session_reference_id
        .as_deref()
        .or(req.session_id.as_deref());
    semconv::completion::record_session(span, explicit, &ctx, profile);
    if req.session_id.is_none() && req.session_reference_id.is_none() {
        req.session_reference_id = ctx.session_reference_id;
    }
    let mut parent_from_tree = false;
    if req.parent_id.is_none() && req.parent_reference_id.is_none() {
        parent_from_tree = ctx.parent_reference_id.is_some();
        req.parent_reference_id = ctx.parent_reference_id;
    }
    if req.save.is_none() {
        req.save = ctx.save;
    }
    (req, parent_from_tree)
}

/// Record a whole answer (or its error) on the span.
pub(crate) fn record_response(
    span: &Span,
    result: &Result<CompletionResponse, Error>,
    config: Option<&crate::Config>,
) {
    match result {
        Ok(resp) => semconv::completion::record_response(span, resp, config),
        Err(e) => record_error(span, e),
    }
}

/// `error.type`: the HTTP status, `cancelled` or `_OTHER`.
pub(crate) fn record_error(span: &Span, e: &Error) {
    semconv::completion::record_error(span, e);
}

/// The span of a streamed completion, finished exactly once: at the end of the stream,
/// on its first error, or when the caller drops it early (`cancelled`).
#[derive(Debug)]
pub(crate) struct StreamTrace {
    recorder: semconv::completion::StreamRecorder,
    started: Instant,
}

impl StreamTrace {
    pub(crate) fn new(span: Span, started: Instant, config: Option<&crate::Config>) -> Self {
        Self {
            recorder: semconv::completion::StreamRecorder::new(span, config),
            started,
        }
    }

    pub(crate) fn on_chunk(&mut self, chunk: &CompletionResponse) {
        let since_start = self.started.elapsed().as_secs_f64();
        self.recorder.on_chunk(chunk, since_start);
    }

    pub(crate) fn finish(&mut self, error: Option<&Error>) {
        let kind = error.map(|e| {
            e.status()
                .map(|s| s.as_u16().to_string())
                .unwrap_or_else(|| semconv::ERROR_OTHER.to_owned())
        });
        self.recorder.finish(kind.as_deref(), error.is_some());
    }
}

impl Drop for StreamTrace {
    fn drop(&mut self) {
        self.recorder.finish(Some(semconv::ERROR_CANCELLED), true);
    }
}
