//! Completion calls through the endpoint belong to the caller's span tree: each gets a
//! GenAI client span (`chat {model_config_id}`, provider `humanloop`), and a call made
//! inside a session or step carries that session and parent, so the endpoint files the
//! datapoint it creates where the caller's own logs are.
//!
//! The endpoint logs these calls itself, so no log is exported for them.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tracing::field::Empty;
use tracing::Span;

use crate::api::{CompletionModelConfigRequest, CompletionResponse};
use crate::error::Error;
use crate::semconv;

/// Waits until the exporter has delivered what is queued (bounded by its own timeout), so
/// a parent step logged by the exporter exists before a request names it (SPEC: a
/// `parent_reference_id` must name a datapoint logged in an earlier request).
pub(crate) type ParentBarrier =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The span of one completion call.
pub(crate) fn completion_span(base: &url::Url, req: &CompletionModelConfigRequest) -> Span {
    tracing::info_span!(
        target: "humanloop_tracing",
        "gen_ai",
        otel.name = format!("chat {}", req.model_config_id),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "humanloop",
        gen_ai.request.model = req.model_config_id.as_str(),
        server.address = base.host_str(),
        server.port = base.port_or_known_default().map(i64::from),
        gen_ai.request.choice.count = req.num_samples.filter(|n| *n != 1).map(i64::from),
        gen_ai.request.stream = req.stream.filter(|s| *s),
        gen_ai.conversation.id = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.time_to_first_chunk = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        error.type = Empty,
    )
}

/// The request with the session and parent of the span tree filled in where the caller
/// named none; `true` when a parent was taken from the span tree.
pub(crate) fn with_hierarchy(
    req: &CompletionModelConfigRequest,
    span: &Span,
) -> (CompletionModelConfigRequest, bool) {
    let mut req = req.clone();
    let ctx = crate::hierarchy::call_context(span);
    if req.session_id.is_none() && req.session_reference_id.is_none() {
        req.session_reference_id = ctx.session_reference_id;
    }
    if let Some(session) = req
        .session_reference_id
        .as_deref()
        .or(req.session_id.as_deref())
    {
        span.record(semconv::GEN_AI_CONVERSATION_ID, session);
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
pub(crate) fn record_response(span: &Span, result: &Result<CompletionResponse, Error>) {
    match result {
        Ok(resp) => {
            if let Some(id) = resp.data.first().and_then(|d| d.id.as_deref()) {
                span.record(semconv::GEN_AI_RESPONSE_ID, id);
            }
            if let Some(usage) = &resp.usage {
                record_usage(span, usage.prompt_tokens, usage.generation_tokens);
            }
            let mut reasons = BTreeMap::new();
            for item in &resp.data {
                if let Some(r) = &item.finish_reason {
                    reasons.insert(item.index, r.as_str().to_owned());
                }
            }
            record_finish_reasons(span, &reasons);
        }
        Err(e) => record_error(span, e),
    }
}

fn record_usage(span: &Span, input: Option<i64>, output: Option<i64>) {
    if let Some(n) = input {
        span.record(semconv::GEN_AI_USAGE_INPUT_TOKENS, n);
    }
    if let Some(n) = output {
        span.record(semconv::GEN_AI_USAGE_OUTPUT_TOKENS, n);
    }
}

#[cfg_attr(not(feature = "otel"), allow(unused_variables))]
fn record_finish_reasons(span: &Span, reasons: &BTreeMap<u32, String>) {
    #[cfg(feature = "otel")]
    if !reasons.is_empty() {
        let list: Vec<&str> = reasons.values().map(String::as_str).collect();
        semconv::set_string_array(span, semconv::GEN_AI_RESPONSE_FINISH_REASONS, &list);
    }
}

/// `error.type`: the HTTP status, `cancelled` or `_OTHER`.
pub(crate) fn record_error(span: &Span, e: &Error) {
    let kind = e
        .status()
        .map(|s| s.as_u16().to_string())
        .unwrap_or_else(|| "_OTHER".to_owned());
    record_error_type(span, &kind);
}

fn record_error_type(span: &Span, kind: &str) {
    span.record(semconv::ERROR_TYPE, kind);
    span.record(semconv::OTEL_STATUS_CODE, "ERROR");
}

/// The span of a streamed completion, finished exactly once: at the end of the stream,
/// on its first error, or when the caller drops it early (`cancelled`).
#[derive(Debug)]
pub(crate) struct StreamTrace {
    span: Span,
    started: Instant,
    first_chunk: bool,
    reasons: BTreeMap<u32, String>,
    finished: bool,
}

impl StreamTrace {
    pub(crate) fn new(span: Span, started: Instant) -> Self {
        Self {
            span,
            started,
            first_chunk: false,
            reasons: BTreeMap::new(),
            finished: false,
        }
    }

    pub(crate) fn on_chunk(&mut self, chunk: &CompletionResponse) {
        if !self.first_chunk {
            self.first_chunk = true;
            self.span.record(
                semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                self.started.elapsed().as_secs_f64(),
            );
            if let Some(id) = chunk.data.first().and_then(|d| d.id.as_deref()) {
                self.span.record(semconv::GEN_AI_RESPONSE_ID, id);
            }
        }
        if let Some(usage) = &chunk.usage {
            record_usage(&self.span, usage.prompt_tokens, usage.generation_tokens);
        }
        for item in &chunk.data {
            if let Some(r) = &item.finish_reason {
                self.reasons.insert(item.index, r.as_str().to_owned());
            }
        }
    }

    pub(crate) fn finish(&mut self, error: Option<&Error>) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        record_finish_reasons(&self.span, &self.reasons);
        if let Some(e) = error {
            record_error(&self.span, e);
        }
        // tracing-opentelemetry ends a span at its last exit: enter once more so the span
        // ends now, when the stream does.
        drop(self.span.enter());
    }
}

impl Drop for StreamTrace {
    fn drop(&mut self) {
        if !self.finished {
            self.finished = true;
            record_finish_reasons(&self.span, &self.reasons);
            record_error_type(&self.span, "cancelled");
            drop(self.span.enter());
        }
    }
}
