//! Completion calls through the endpoint belong to the caller's span tree: each gets a
//! GenAI client span like every other LLM call's (`chat {model}`, provider `humanloop`;
//! see [`semconv`] for what it carries), and a call made
//! inside a session or step carries that session and parent, so the endpoint files the
//! datapoint it creates where the caller's own logs are.
//!
//! The endpoint logs these calls itself, so no log is exported for them.
//!
//! This facade sits above the hierarchy and the exporter; the [`Client`] below it is a
//! plain transport that knows neither.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

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
    /// The handle's configuration: the conventions and the content switch of the spans.
    config: Arc<crate::Config>,
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
    pub(crate) fn new(client: Client, barrier: ParentBarrier, config: &crate::Config) -> Self {
        Self {
            client,
            barrier,
            return_inputs: config.return_inputs,
            config: Arc::new(config.clone()),
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
        record_response(&span, &result, &self.config);
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
            Ok(stream) => {
                Ok(stream.observed(Box::new(StreamTrace::new(span, started, &self.config))))
            }
            Err(e) => {
                semconv::completion::record_error(&span, &e);
                Err(e)
            }
        }
    }

    fn with_hierarchy(
        &self,
        req: &CompletionModelConfigRequest,
        span: &Span,
    ) -> (CompletionModelConfigRequest, bool) {
        let (mut req, parent_from_tree) = with_hierarchy(req, span, &self.config);
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
    semconv::completion::span(base, req)
}

/// The request with the session and parent of the span tree filled in where the caller
/// named none; `true` when a parent was taken from the span tree.
fn with_hierarchy(
    req: &CompletionModelConfigRequest,
    span: &Span,
    config: &crate::Config,
) -> (CompletionModelConfigRequest, bool) {
    let mut req = req.clone();
    let ctx = crate::hierarchy::call_context(span);
    // A session the caller named in the request is named; else the span tree's.
    let explicit = req
        .session_reference_id
        .as_deref()
        .or(req.session_id.as_deref());
    let tree = (ctx.session_reference_id.as_deref(), ctx.session_named);
    semconv::completion::record_session(span, explicit, tree, config.semconv_profile());
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
    stamp_prompt(&mut req);
    (req, parent_from_tree)
}

/// The model config's identity on the log the endpoint makes of the call: the v4 log has
/// `config_id` but no prompt field, so `gen_ai.prompt.name` goes in its `metadata` (under
/// the span attribute's name), unless the caller set that key. The version is known only
/// from the answer, after the log exists, so it is on the span alone.
fn stamp_prompt(req: &mut CompletionModelConfigRequest) {
    let name = serde_json::Value::from(req.model_config_id.as_str());
    req.metadata
        .get_or_insert_with(Default::default)
        .entry(semconv::GEN_AI_PROMPT_NAME)
        .or_insert(name);
}

/// Record a whole answer (or its error) on the span.
fn record_response(
    span: &Span,
    result: &Result<CompletionResponse, Error>,
    config: &crate::Config,
) {
    match result {
        Ok(resp) => semconv::completion::record_response(span, resp, Some(config)),
        Err(e) => semconv::completion::record_error(span, e),
    }
}

/// The span of a streamed completion, finished exactly once: at the end of the stream,
/// on its first error, or when the caller drops it early (`cancelled`).
#[derive(Debug)]
struct StreamTrace {
    recorder: semconv::completion::StreamRecorder,
    started: Instant,
}

impl StreamTrace {
    fn new(span: Span, started: Instant, config: &crate::Config) -> Self {
        Self {
            recorder: semconv::completion::StreamRecorder::new(span, Some(config)),
            started,
        }
    }
}

impl Drop for StreamTrace {
    fn drop(&mut self) {
        self.recorder.finish(Some(semconv::ERROR_CANCELLED), true);
    }
}

impl StreamObserver for StreamTrace {
    fn on_chunk(&mut self, chunk: &CompletionChunk) {
        let since_start = self.started.elapsed().as_secs_f64();
        self.recorder.on_chunk(chunk, since_start);
    }
    fn on_end(&mut self, error: Option<&Error>) {
        let kind = error.map(|e| {
            e.status()
                .map(|s| s.as_u16().to_string())
                .unwrap_or_else(|| semconv::ERROR_OTHER.to_owned())
        });
        self.recorder.finish(kind.as_deref(), error.is_some());
    }
}
