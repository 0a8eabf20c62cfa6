//! The in-flight call record: everything one LLM call needs from its start to its
//! single finish.

use std::fmt;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tracing::Span;

use super::log::{self, Content, DeferredRequest, LogParts};
use super::ndjson::{Events, LineSplitter};
use super::sse::SseSplitter;
use super::Secrets;
use crate::export::ExportRecord;
use crate::hierarchy::{self, CallContext};
use crate::hooks::contain;
use crate::provider::{Detected, Generation, LlmRequest, RequestHead, ResponseDecoder};
use crate::semconv::{self, CallOutcome};
use crate::Humanloop;

/// Error bodies are kept up to this size (they are small; the cap is a guard).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The body ended normally.
    Complete,
    /// The body failed mid-way.
    BodyError,
    /// The caller let go of the response (or of the future) before the end.
    Cancelled,
    /// The request failed before a response head arrived.
    Transport,
}

/// How the response body is being watched.
enum Capture {
    /// No response head yet.
    AwaitingHead,
    /// `text/event-stream` (or `application/x-ndjson`): fed event by event.
    Sse(Events),
    /// Any other 2xx body: kept (up to the cap) and decoded at the end.
    Json(Vec<u8>),
    /// An error status: the body is kept for the codec's error decoder.
    Error(Vec<u8>),
    /// An encoded body (gzip, …): not decoded.
    Opaque,
    /// Finished.
    Done,
}

/// One LLM call between its start and its finish. Dropping an unfinished call finishes
/// it as cancelled.
pub(crate) struct Call {
    hl: Humanloop,
    span: Span,
    detected: Detected,
    request: LlmRequest,
    /// The request body still to decode in full for the log (when only its head was).
    deferred: Option<DeferredRequest>,
    /// Nothing records the span: the log's builder decodes the request and a plain
    /// response body, and records the metrics (see [`Call::start`]).
    deferred_all: bool,
    /// The raw request body, for the log's `provider_request` (only when logs carry content).
    request_body: Option<Bytes>,
    secrets: Secrets,
    ctx: CallContext,
    started: Instant,
    created_at: SystemTime,
    first_chunk: Option<Instant>,
    last_chunk: Option<Instant>,
    events: u64,
    status: Option<StatusCode>,
    capture: Capture,
    /// In a `Mutex` only so that the body stays `Sync` (reqwest requires it); always
    /// reached through `get_mut`, never locked. `None` once the codec panicked.
    decoder: Mutex<Option<Box<dyn ResponseDecoder>>>,
    truncated: bool,
    finished: bool,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("detected", &self.detected)
            .field("model", &self.request.model)
            .field("status", &self.status)
            .field("events", &self.events)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Start a call the registry recognised: decode the request, open the span, ask
    /// the hierarchy for the call's ids.
    pub(crate) fn start(
        hl: &Humanloop,
        detected: Detected,
        head: &RequestHead<'_>,
        body: Option<Bytes>,
    ) -> Call {
        let started = Instant::now();
        let created_at = SystemTime::now();
        let config = hl.config();
        let encoded = head
            .headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        let body = body.filter(|_| !encoded);
        let codec = detected.codec.clone();
        // No subscriber wants the span (the common case of a service that only ships logs):
        // nothing is decoded on the caller's path; the log's builder decodes everything on
        // the exporter's thread and records the metrics there. `span_enabled!` may err
        // (filters on span names): a span that turns out enabled is made again, decoded.
        let mut deferred_all = false;
        let mut request = LlmRequest::empty(detected.operation);
        let mut span = Span::none();
        if !tracing::span_enabled!(target: "humanloop_tracing", tracing::Level::INFO) {
            span = semconv::inference_span(&detected, &request);
            // A span is built (not disabled) under `NoSubscriber` when another live
            // dispatcher gave its callsite an "always" interest; nothing records it.
            deferred_all = span.is_disabled()
                || tracing::dispatcher::get_default(|d| {
                    d.is::<tracing::subscriber::NoSubscriber>()
                });
        }
        // Content on the span needs the messages now; otherwise the caller only pays for
        // the head, and the log's builder decodes the rest on the exporter's thread.
        let content_now = config.capture_content();
        let decode = || {
            contain("codec", || {
                let bytes = body.as_deref().unwrap_or_default();
                if content_now {
                    codec.decode_request(head, bytes)
                } else {
                    codec.decode_request_head(head, bytes)
                }
            })
            .unwrap_or_else(|| LlmRequest::empty(detected.operation))
        };
        if !deferred_all {
            request = decode();
            span = semconv::inference_span(&detected, &request);
        }
        let mut ctx = hierarchy::call_context(&span);
        if let Some(attempt) = super::attempt::current() {
            ctx.metadata
                .insert("retry_attempt".into(), attempt.number.into());
            ctx.metadata
                .insert("retry_group".into(), attempt.group.as_ref().into());
            #[cfg(feature = "otel")]
            if attempt.number > 1 {
                // Set through OpenTelemetry: the span's `tracing` fields are all taken.
                use tracing_opentelemetry::OpenTelemetrySpanExt;
                span.set_attribute(
                    semconv::HTTP_REQUEST_RESEND_COUNT,
                    i64::from(attempt.number - 1),
                );
            }
        }
        if deferred_all && !ctx.sampled {
            // No log to build it in: the metrics need the request's head now.
            deferred_all = false;
            request = decode();
        }
        if let Some(session) = &ctx.session_reference_id {
            span.record(semconv::GEN_AI_CONVERSATION_ID, session.as_str());
        }
        let mut secrets = Secrets::from_head(head);
        if let Some(body) = &body {
            secrets.add_from_body(body);
        }
        if config.capture_content() && ctx.sampled && !span.is_disabled() {
            let max = config.max_content_attribute_bytes;
            let clean = |s: &mut String| log::clean(config, &secrets, s);
            if !request.messages.is_empty() {
                let json = log::content_json(Content::Messages(&request.messages), &clean, max);
                span.record(semconv::GEN_AI_INPUT_MESSAGES, json.as_str());
            }
            if !request.system.is_empty() {
                let json = log::content_json(Content::Parts(&request.system), &clean, max);
                span.record(semconv::GEN_AI_SYSTEM_INSTRUCTIONS, json.as_str());
            }
        }
        let decoder = contain("codec", || codec.response_decoder(&request));
        let deferred = (deferred_all || (!content_now && ctx.sampled)).then(|| DeferredRequest {
            codec: codec.clone(),
            method: head.method.clone(),
            uri: head.uri.clone(),
            body: body.clone().unwrap_or_default(),
            whole: deferred_all,
        });
        let request_body = body.filter(|_| config.log_content() && ctx.sampled);
        Call {
            hl: hl.clone(),
            span,
            detected,
            request,
            deferred,
            deferred_all,
            request_body,
            secrets,
            ctx,
            started,
            created_at,
            first_chunk: None,
            last_chunk: None,
            events: 0,
            status: None,
            capture: Capture::AwaitingHead,
            decoder: Mutex::new(decoder),
            truncated: false,
            finished: false,
        }
    }

    /// The call's span (to enter while the request is in flight, and to inject).
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// The response head arrived: choose how to watch the body.
    pub(crate) fn on_response_head(&mut self, status: StatusCode, headers: &HeaderMap) {
        self.status = Some(status);
        let max = self.hl.config().max_capture_bytes();
        let encoded = headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        let sse = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..17)
                    .is_some_and(|p| p.eq_ignore_ascii_case("text/event-stream"))
            });
        let ndjson = !sse
            && headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.trim_start()
                        .get(..20)
                        .is_some_and(|p| p.eq_ignore_ascii_case("application/x-ndjson"))
                });
        self.capture = if encoded {
            Capture::Opaque
        } else if !status.is_success() {
            Capture::Error(Vec::new())
        } else if sse || ndjson {
            self.stream_decoder();
            Capture::Sse(if sse {
                Events::Sse(SseSplitter::new(max))
            } else {
                Events::Lines(LineSplitter::new(max))
            })
        } else {
            Capture::Json(Vec::new())
        };
    }

    /// A stream whose request was not decoded (no subscriber): the decoder is made again
    /// from the request's head, so that it knows when the stream has said everything that
    /// matters (the choices it ends with, whether usage follows). Streams only: a head
    /// decode skips the content.
    fn stream_decoder(&mut self) {
        let Some(d) = self.deferred.as_ref().filter(|_| self.deferred_all) else {
            return;
        };
        let headers = HeaderMap::new();
        let head = RequestHead {
            method: &d.method,
            uri: &d.uri,
            headers: &headers,
        };
        let codec = &d.codec;
        let decoder = contain("codec", || {
            codec.response_decoder(&codec.decode_request_head(&head, &d.body))
        });
        if decoder.is_some() {
            *self.decoder.get_mut().unwrap_or_else(|e| e.into_inner()) = decoder;
        }
    }

    /// A body frame is on its way to the caller: note the time and feed the decoder.
    pub(crate) fn on_data(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let now = Instant::now();
        if self.first_chunk.is_none() {
            self.first_chunk = Some(now);
        }
        self.last_chunk = Some(now);
        let max = self.hl.config().max_capture_bytes();
        let decoder = self.decoder.get_mut().unwrap_or_else(|e| e.into_inner());
        match &mut self.capture {
            Capture::Sse(splitter) => {
                let events = &mut self.events;
                splitter.feed(data, &mut |event, data| {
                    *events += 1;
                    feed_event(decoder, event, data);
                });
                // The protocol's end marker: finish now, so a caller that stops reading
                // there and drops the body is not counted as cancelling the call.
                let complete = decoder
                    .as_ref()
                    .is_some_and(|d| contain("codec", || d.is_complete()).unwrap_or(false));
                if complete {
                    self.finish(End::Complete);
                }
            }
            Capture::Json(buf) => keep(buf, data, max, &mut self.truncated),
            Capture::Error(buf) => {
                let mut ignored = false;
                keep(buf, data, max.min(MAX_ERROR_BODY), &mut ignored)
            }
            Capture::AwaitingHead | Capture::Opaque | Capture::Done => {}
        }
    }

    /// Finish the call (once; later calls do nothing): record the outcome on the span
    /// and in metrics, hand the log to the exporter, end the span.
    pub(crate) fn finish(&mut self, end: End) {
        if self.finished {
            return;
        }
        self.finished = true;
        let now = Instant::now();
        let mut decoder = self
            .decoder
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut response_body = None;
        let mut deferred_output = false;
        let mut provider_error = None;
        let streamed = matches!(self.capture, Capture::Sse(_)) || self.request.stream;
        match std::mem::replace(&mut self.capture, Capture::Done) {
            Capture::Sse(mut splitter) => {
                let events = &mut self.events;
                splitter.finish(&mut |event, data| {
                    *events += 1;
                    feed_event(&mut decoder, event, data);
                });
                self.truncated |= splitter.truncated();
            }
            Capture::Json(buf) if self.deferred_all => {
                deferred_output = decoder.is_some();
                response_body = Some(buf);
            }
            Capture::Json(buf) => {
                // The span needs no output content unless it records it; a log with
                // content gets the full decode on the exporter's thread.
                let config = self.hl.config();
                let head_only = !config.capture_content();
                if let Some(d) = decoder.as_mut() {
                    let decoded = contain("codec", || {
                        if head_only {
                            d.on_body_head(&buf)
                        } else {
                            d.on_body(&buf)
                        }
                    });
                    if decoded.is_none() {
                        decoder = None;
                    }
                }
                deferred_output = head_only && config.log_content() && decoder.is_some();
                response_body = Some(buf);
            }
            Capture::Error(buf) => {
                let codec = &self.detected.codec;
                provider_error = contain("codec", || codec.decode_error(&buf)).flatten();
                response_body = Some(buf);
            }
            Capture::AwaitingHead | Capture::Opaque | Capture::Done => {}
        }
        let mut generation = decoder
            .as_mut()
            .and_then(|d| contain("codec", || d.finish()))
            .unwrap_or_default();
        drop(decoder);
        if provider_error.is_some() {
            generation.error = provider_error;
        }
        let time_to_first_chunk = self
            .first_chunk
            .filter(|_| streamed)
            .map(|t| (t - self.started).as_secs_f64());
        let duration = now - self.started;
        let timing = Timing {
            duration: duration.as_secs_f64(),
            time_to_first_chunk,
            time_per_output_chunk: match (self.first_chunk, self.last_chunk) {
                (Some(first), Some(last)) if streamed && self.events > 1 => {
                    Some((last - first).as_secs_f64() / (self.events - 1) as f64)
                }
                _ => None,
            },
        };
        let config = self.hl.config();
        if self.deferred_all {
            let outcome = log::Outcome::Pending(Box::new(log::PendingOutcome {
                detected: self.detected.clone(),
                status: self.status,
                end,
                timing,
            }));
            self.submit(generation, response_body, deferred_output, outcome, timing);
            self.span = Span::none();
            return;
        }
        let error_type = error_type(self.status, end, &generation);
        let error_type = error_type.as_deref();
        semconv::record_outcome(
            &self.span,
            &CallOutcome {
                generation: &generation,
                time_to_first_chunk,
                error_type,
                truncated: self.truncated,
            },
        );
        if config.capture_content()
            && self.ctx.sampled
            && !generation.choices.is_empty()
            && !self.span.is_disabled()
        {
            let secrets = &self.secrets;
            let clean = |s: &mut String| log::clean(config, secrets, s);
            let json = log::content_json(
                Content::Messages(&generation.choices),
                &clean,
                config.max_content_attribute_bytes,
            );
            self.span
                .record(semconv::GEN_AI_OUTPUT_MESSAGES, json.as_str());
        }
        timing.record_metrics(&self.detected, &self.request, &generation, error_type);
        if self.ctx.sampled {
            let error = error_type.map(|t| error_message(t, &generation, self.status, end));
            let outcome = log::Outcome::Known(error);
            self.submit(generation, response_body, deferred_output, outcome, timing);
        }
        // End the span now, whatever the caller does with the response afterwards.
        // tracing-opentelemetry takes a span's end time from its last exit: enter it
        // once more so that the end is now, not when the response head arrived.
        drop(self.span.enter());
        self.span = Span::none();
    }

    /// Hand the log to the exporter, to be built on its thread (the call's request, ids
    /// and secrets move into it).
    fn submit(
        &mut self,
        generation: Generation,
        response_body: Option<Vec<u8>>,
        deferred_output: bool,
        outcome: log::Outcome,
        timing: Timing,
    ) {
        let logged = self.hl.config().log_content();
        let parts = LogParts {
            provider: self.detected.provider.clone(),
            operation: self.detected.operation,
            request: std::mem::replace(
                &mut self.request,
                LlmRequest::empty(self.detected.operation),
            ),
            deferred: self.deferred.take(),
            request_body: self.request_body.take(),
            response_body_logged: logged,
            response_body: response_body.filter(|_| logged || deferred_output),
            deferred_output: deferred_output.then(|| self.detected.codec.clone()),
            generation,
            outcome,
            duration: timing.duration,
            created_at: self.created_at,
            ctx: std::mem::take(&mut self.ctx),
            secrets: std::mem::take(&mut self.secrets),
            truncated: self.truncated,
        };
        let hl = self.hl.clone();
        self.hl
            .inner
            .exporter
            .submit(ExportRecord::Deferred(Box::new(move || {
                log::build(hl.config(), parts)
            })));
    }
}

/// The times the metrics record (read only with the `otel` feature).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) struct Timing {
    pub duration: f64,
    pub time_to_first_chunk: Option<f64>,
    /// Mean time between chunks after the first one.
    pub time_per_output_chunk: Option<f64>,
}

impl Timing {
    /// Record the GenAI client metrics of a finished call (`otel` feature).
    pub(crate) fn record_metrics(
        &self,
        detected: &Detected,
        request: &LlmRequest,
        generation: &Generation,
        error_type: Option<&str>,
    ) {
        #[cfg(feature = "otel")]
        semconv::metrics::record(&semconv::metrics::CallMetrics {
            detected,
            request,
            generation,
            duration: self.duration,
            time_to_first_chunk: self.time_to_first_chunk,
            time_per_output_chunk: self.time_per_output_chunk,
            error_type,
        });
        #[cfg(not(feature = "otel"))]
        let _ = (detected, request, generation, error_type);
    }
}

/// `error.type` of a finished call: the provider's error code or the HTTP status for an
/// error status; `cancelled` or `_OTHER` when the body did not end well.
pub(crate) fn error_type(
    status: Option<StatusCode>,
    end: End,
    generation: &Generation,
) -> Option<String> {
    if let Some(status) = status.filter(|s| !s.is_success()) {
        let code = generation.error.as_ref().and_then(|e| e.code.clone());
        return Some(code.unwrap_or_else(|| status.as_str().to_owned()));
    }
    match end {
        End::Cancelled => Some(semconv::ERROR_CANCELLED.to_owned()),
        End::BodyError | End::Transport => Some(semconv::ERROR_OTHER.to_owned()),
        End::Complete => generation.error.as_ref().map(|e| {
            e.code
                .clone()
                .unwrap_or_else(|| semconv::ERROR_OTHER.to_owned())
        }),
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(End::Cancelled);
    }
}

/// The log's `error` text. Transport errors are not quoted: their text can carry the
/// request URL, and with it a `key=` parameter.
pub(crate) fn error_message(
    error_type: &str,
    generation: &Generation,
    status: Option<StatusCode>,
    end: End,
) -> String {
    let message = generation.error.as_ref().and_then(|e| e.message.as_deref());
    let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
    match (status.filter(|s| !s.is_success()), end) {
        (Some(status), _) => format!("HTTP {} {error_type}{detail}", status.as_u16()),
        (None, End::Cancelled) => {
            "cancelled: the caller dropped the response before it ended".to_owned()
        }
        (None, End::Transport) => "_OTHER: the request failed before a response".to_owned(),
        (None, End::BodyError) => "_OTHER: the response body failed mid-way".to_owned(),
        (None, End::Complete) => format!("provider error {error_type}{detail}"),
    }
}

fn feed_event(decoder: &mut Option<Box<dyn ResponseDecoder>>, event: Option<&str>, data: &[u8]) {
    if let Some(d) = decoder.as_mut() {
        if contain("codec", || d.on_event(event, data)).is_none() {
            *decoder = None;
        }
    }
}

/// Keep `data` in `buf` up to `max` bytes in all; past it, note the truncation.
fn keep(buf: &mut Vec<u8>, data: &[u8], max: usize, truncated: &mut bool) {
    let room = max.saturating_sub(buf.len());
    if data.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&data[..data.len().min(room)]);
}
