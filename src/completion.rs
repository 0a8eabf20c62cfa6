//! Completion calls through the endpoint belong to the caller's span tree: each gets a
//! GenAI client span (`chat {model_config_id}`, provider `humanloop`), and a call made
//! inside a session or step carries that session and parent, so the endpoint files the
//! datapoint it creates where the caller's own logs are.
//!
//! The endpoint logs these calls itself, so no log is exported for them.
//!
//! This facade sits above the hierarchy and the exporter; the [`Client`] below it is a
//! plain transport that knows neither.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::api::{CompletionChunk, CompletionModelConfigRequest, CompletionResponse};
use crate::client::{Client, CompletionStream, StreamObserver};
use crate::error::Error;
use crate::semconv;

/// Waits until the exporter has delivered what is queued (bounded by its own timeout), so
/// a parent step logged by the exporter exists before a request names it (the endpoint: a
/// `parent_reference_id` must name a datapoint logged in an earlier request).
pub(crate) type ParentBarrier =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The endpoint client as [`Humanloop::client`](crate::Humanloop::client) hands it out:
/// completion calls are traced and filed under the caller's session and step; everything
/// else is the plain [`Client`]'s (it derefs to it). Cheap to clone; `Debug` never shows
/// the API key.
#[derive(Clone)]
pub struct TracedClient {
    client: Client,
    barrier: ParentBarrier,
    /// `false`: completion calls that do not say ask the endpoint not to echo the inputs.
    return_inputs: bool,
}

impl fmt::Debug for TracedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.client, f)
    }
}

impl std::ops::Deref for TracedClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TracedClient {
    pub(crate) fn new(client: Client, barrier: ParentBarrier, return_inputs: bool) -> Self {
        Self {
            client,
            barrier,
            return_inputs,
        }
    }

    /// The plain transport underneath (no spans, no hierarchy).
    pub fn plain(&self) -> &Client {
        &self.client
    }

    /// [`Client::completion_model_config`], traced: a GenAI client span, and the session
    /// and parent step of the span tree filled in where `req` names none.
    pub async fn completion_model_config(
        &self,
        req: &CompletionModelConfigRequest,
    ) -> Result<CompletionResponse, Error> {
        let span = completion_span(&self.client, req);
        let (req, parent_from_tree) = self.with_hierarchy(req, &span);
        let result = async {
            if parent_from_tree {
                (self.barrier)().await;
            }
            self.client.completion_model_config(&req).await
        }
        .instrument(span.clone())
        .await;
        record_response(&span, &result);
        result
    }

    /// [`Client::completion_model_config_stream`], traced: the span ends with the stream
    /// (at its end, its first error, or when the caller drops it: `cancelled`).
    pub async fn completion_model_config_stream(
        &self,
        req: &CompletionModelConfigRequest,
    ) -> Result<CompletionStream, Error> {
        let started = Instant::now();
        let mut req = req.clone();
        req.stream = Some(true);
        let span = completion_span(&self.client, &req);
        let (req, parent_from_tree) = self.with_hierarchy(&req, &span);
        let result = async {
            if parent_from_tree {
                (self.barrier)().await;
            }
            self.client.completion_model_config_stream(&req).await
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok(stream) => Ok(stream.observed(Box::new(StreamTrace::new(span, started)))),
            Err(e) => {
                record_error(&span, &e);
                Err(e)
            }
        }
    }

    fn with_hierarchy(
        &self,
        req: &CompletionModelConfigRequest,
        span: &Span,
    ) -> (CompletionModelConfigRequest, bool) {
        let (mut req, parent_from_tree) = with_hierarchy(req, span);
        if req.return_inputs.is_none() && !self.return_inputs {
            req.return_inputs = Some(false);
        }
        (req, parent_from_tree)
    }
}

/// The span of one completion call.
fn completion_span(client: &Client, req: &CompletionModelConfigRequest) -> Span {
    let base = client.base();
    completion_span_at(base, req)
}

fn completion_span_at(base: &url::Url, req: &CompletionModelConfigRequest) -> Span {
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
fn with_hierarchy(
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
fn record_response(span: &Span, result: &Result<CompletionResponse, Error>) {
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
fn record_error(span: &Span, e: &Error) {
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
struct StreamTrace {
    span: Span,
    started: Instant,
    first_chunk: bool,
    reasons: BTreeMap<u32, String>,
    finished: bool,
}

impl StreamTrace {
    fn new(span: Span, started: Instant) -> Self {
        Self {
            span,
            started,
            first_chunk: false,
            reasons: BTreeMap::new(),
            finished: false,
        }
    }

    fn on_chunk(&mut self, chunk: &CompletionChunk) {
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

    fn finish(&mut self, error: Option<&Error>) {
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

impl StreamObserver for StreamTrace {
    fn on_chunk(&mut self, chunk: &CompletionChunk) {
        StreamTrace::on_chunk(self, chunk);
    }
    fn on_end(&mut self, error: Option<&Error>) {
        self.finish(error);
    }
}
