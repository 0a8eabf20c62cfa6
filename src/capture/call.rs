//! The in-flight call record: everything one LLM call needs from its start to its
//! single finish.

use std::fmt;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tracing::Span;

use super::log::{self, Content, DeferredRequest, Finished};
use super::ndjson::{Events, LineSplitter};
use super::outcome::{End, Timing};
use super::sse::SseSplitter;
use super::Recorder;
use super::Secrets;
use crate::export::ExportRecord;
use crate::hierarchy::{self, CallContext};
use crate::hooks::contain;
use crate::provider::{Detected, LlmRequest, RequestHead, ResponseDecoder};
use crate::semconv;

/// Error bodies are kept up to this size (they are small; the cap is a guard).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A stream's first reservation for the bytes it keeps (a short completion fits).
const PENDING_START: usize = 16 * 1024;

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

/// How a call is captured, decided once when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A subscriber records the span: what the span shows is decoded when the call is
    /// completed, on the caller's thread for a plain call and the finisher's for a stream
    /// (the heads; with `content`, which is `capture_content` for a sampled call, the
    /// request's messages at the start); `logged` calls also get a log, completed on the
    /// exporter's thread.
    Traced { content: bool, logged: bool },
    /// Nothing records the span and the session is sampled: nothing is decoded on the
    /// caller's path; the whole call is completed (decoded, its metrics recorded, its log
    /// built) on the exporter's thread.
    LogOnly,
    /// Nothing records the span and the session was sampled out: only the metrics, from
    /// the heads.
    MetricsOnly,
}

impl Mode {
    fn logged(self) -> bool {
        matches!(self, Mode::Traced { logged: true, .. } | Mode::LogOnly)
    }

    /// Whether content goes on the span.
    fn content(self) -> bool {
        matches!(self, Mode::Traced { content: true, .. })
    }
}

/// What a call records from its start to its completion: kept by the [`Call`] while it
/// runs, then moved whole into the [`Ending`] that completes it.
struct Record {
    recorder: Recorder,
    span: Span,
    detected: Detected,
    request: LlmRequest,
    /// The request body still to decode in full for the log (when only its head was).
    deferred: Option<DeferredRequest>,
    mode: Mode,
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
    truncated: bool,
    /// Stream bytes kept for the finisher (see [`Call::on_data`]).
    pending: Vec<u8>,
    /// The request is still to be decoded (see [`DeferredRequest`]), and the decoder with
    /// it: when the call is completed, or as soon as a stream outgrows the capture cap.
    request_pending: bool,
}

impl Record {
    /// What is left in a finished call: nothing to complete.
    fn finished(&self) -> Record {
        Record {
            recorder: self.recorder.clone(),
            span: Span::none(),
            detected: self.detected.clone(),
            request: LlmRequest::empty(self.detected.operation),
            deferred: None,
            mode: self.mode,
            request_body: None,
            secrets: Secrets::default(),
            ctx: CallContext::default(),
            started: self.started,
            created_at: self.created_at,
            first_chunk: None,
            last_chunk: None,
            events: 0,
            status: self.status,
            capture: Capture::Done,
            truncated: false,
            pending: Vec::new(),
            request_pending: false,
        }
    }
}

/// One LLM call between its start and its finish. Dropping an unfinished call finishes
/// it as cancelled.
pub(crate) struct Call {
    rec: Record,
    /// In a `Mutex` only so that the body stays `Sync` (reqwest requires it); always
    /// reached through `get_mut`, never locked. `None` once the codec panicked.
    decoder: Mutex<Option<Box<dyn ResponseDecoder>>>,
    finished: bool,
    /// Past the capture cap: stream bytes are fed as they arrive.
    inline: bool,
    /// The bytes that end this stream, if its protocol has them (a searcher built once per
    /// stream: building one per chunk cost more than the search).
    /// Boxed: the searcher holds AVX2 vectors, and inline it made every `Call` (and the
    /// boxed body and future around it) 32-byte aligned, which glibc allocates through
    /// `posix_memalign` at about ten times the cost of a `malloc`.
    end_marker: Option<Box<memchr::memmem::Finder<'static>>>,
    /// How far `pending` was searched for `end_marker`.
    searched: usize,
    /// `end_marker` is in `pending`.
    marker_seen: bool,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("detected", &self.rec.detected)
            .field("model", &self.rec.request.model)
            .field("status", &self.rec.status)
            .field("events", &self.rec.events)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Start a call the registry recognised: decode the request, open the span, ask
    /// the hierarchy for the call's ids.
    pub(crate) fn start(
        recorder: &Recorder,
        detected: Detected,
        head: &RequestHead<'_>,
        body: Option<Bytes>,
    ) -> Call {
        let started = Instant::now();
        let created_at = SystemTime::now();
        let config = recorder.config();
        let encoded = head
            .headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        let body = body.filter(|_| !encoded);
        let codec = detected.codec.clone();
        // No subscriber wants the span (the common case of a service that only ships logs):
        // nothing is decoded on the caller's path. `span_enabled!` may err (filters on
        // span names): a span that turns out enabled is made again, decoded.
        let mut quiet = false;
        let mut request = LlmRequest::empty(detected.operation);
        let mut span = Span::none();
        if !tracing::span_enabled!(target: "humanloop_tracing", tracing::Level::INFO) {
            span = semconv::inference_span(&detected, &request, config.semconv_profile());
            // A span is built (not disabled) under `NoSubscriber` when another live
            // dispatcher gave its callsite an "always" interest; nothing records it.
            quiet = span.is_disabled()
                || tracing::dispatcher::get_default(|d| {
                    d.is::<tracing::subscriber::NoSubscriber>()
                });
        }
        // Content on the span needs the messages now. Otherwise nothing is decoded at the
        // start: the request's head is decoded (and its attributes recorded on the span)
        // when the call is completed, and the log gets the rest on the exporter's thread.
        let full_now = config.capture_content();
        if !quiet {
            if full_now {
                request = contain("codec", || {
                    codec.decode_request(head, body.as_deref().unwrap_or_default())
                })
                .unwrap_or_else(|| LlmRequest::empty(detected.operation));
            }
            span = semconv::inference_span(&detected, &request, config.semconv_profile());
        }
        let decoded = !quiet && full_now;
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
        let mode = match (quiet, ctx.sampled) {
            (true, true) => Mode::LogOnly,
            (true, false) => Mode::MetricsOnly,
            (false, sampled) => Mode::Traced {
                content: full_now && sampled && !span.is_disabled(),
                logged: sampled,
            },
        };
        let mut secrets = Secrets::from_head(head);
        // The secret-named fields of the body matter here only to clean content recorded
        // now; otherwise the log looks for them when it is built.
        if let Some(body) = body.as_ref().filter(|_| mode.content()) {
            secrets.add_from_body(body);
        }
        if mode.content() {
            let max = config.content().max_content_attribute_bytes;
            let clean = |s: &mut String| log::clean(config, &secrets, s);
            if !request.messages.is_empty() {
                let json = log::content_json(Content::Messages(&request.messages), &clean, max);
                span.record(semconv::GEN_AI_INPUT_MESSAGES, json.as_str());
            }
            if !request.system.is_empty() {
                let json = log::content_json(Content::Parts(&request.system), &clean, max);
                span.record(semconv::GEN_AI_SYSTEM_INSTRUCTIONS, json.as_str());
            }
            semconv::record_tool_definitions(&span, &request.tools, &clean, max);
        }
        // Before the request is decoded the decoder only serves to name the stream's end
        // marker; it is made again from the decoded request when the call is completed.
        let decoder = contain("codec", || codec.response_decoder(&request));
        let deferred = (!decoded).then(|| DeferredRequest {
            codec: codec.clone(),
            method: head.method.clone(),
            uri: head.uri.clone(),
            body: body.clone().unwrap_or_default(),
            whole: true,
        });
        let request_body = body.filter(|_| config.log_content() && mode.logged());
        Call {
            rec: Record {
                recorder: recorder.clone(),
                span,
                detected,
                request,
                deferred,
                mode,
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
                truncated: false,
                pending: Vec::new(),
                request_pending: !decoded,
            },
            decoder: Mutex::new(decoder),
            finished: false,
            inline: false,
            end_marker: None,
            searched: 0,
            marker_seen: false,
        }
    }

    /// The call's span (to enter while the request is in flight, and to inject).
    pub(crate) fn span(&self) -> &Span {
        &self.rec.span
    }

    /// The response head arrived: choose how to watch the body.
    pub(crate) fn on_response_head(&mut self, status: StatusCode, headers: &HeaderMap) {
        self.rec.status = Some(status);
        let max = self.rec.recorder.config().max_capture_bytes();
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
        self.rec.capture = if encoded {
            Capture::Opaque
        } else if !status.is_success() {
            Capture::Error(Vec::new())
        } else if sse || ndjson {
            self.end_marker = self
                .decoder
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .and_then(|d| d.end_marker())
                .map(|m| Box::new(memchr::memmem::Finder::new(m)));
            Capture::Sse(if sse {
                Events::Sse(SseSplitter::new(max))
            } else {
                Events::Lines(LineSplitter::new(max))
            })
        } else {
            // Sized once from the length the server announced (up to 64 KB: a length is
            // only a promise): grown chunk by chunk, a 2 KB body took six reallocations.
            let announced = headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            Capture::Json(Vec::with_capacity(announced.min(max).min(64 * 1024)))
        };
    }

    /// A body frame is on its way to the caller: note the time and keep or feed it.
    ///
    /// A stream's bytes are kept, up to the capture cap, and split and decoded by the
    /// finisher; past the cap they are fed here as they arrive (the splitter keeps what
    /// an unfinished event needs and marks the output truncated).
    pub(crate) fn on_data(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let now = Instant::now();
        if self.rec.first_chunk.is_none() {
            self.rec.first_chunk = Some(now);
        }
        self.rec.last_chunk = Some(now);
        let max = self.rec.recorder.config().max_capture_bytes();
        match &mut self.rec.capture {
            Capture::Sse(_) if !self.inline && self.rec.pending.len() + data.len() <= max => {
                if self.rec.pending.capacity() == 0 {
                    self.rec.pending.reserve(PENDING_START.min(max));
                }
                self.rec.pending.extend_from_slice(data);
                if self.ends_stream() {
                    self.finish(End::Complete);
                }
            }
            Capture::Sse(_) => {
                if !self.inline {
                    self.inline = true;
                    if std::mem::take(&mut self.rec.request_pending) {
                        // Fed here from now on: the decoder must know the request.
                        self.rec.request =
                            request_head(self.rec.deferred.as_ref(), self.rec.detected.operation);
                        let codec = &self.rec.detected.codec;
                        let decoder =
                            contain("codec", || codec.response_decoder(&self.rec.request));
                        *self.decoder.get_mut().unwrap_or_else(|e| e.into_inner()) = decoder;
                        if let Mode::Traced { .. } = self.rec.mode {
                            let profile = self.rec.recorder.config().semconv_profile();
                            semconv::record_request(&self.rec.span, &self.rec.request, profile);
                        }
                    }
                    let pending = std::mem::take(&mut self.rec.pending);
                    self.feed_now(&pending);
                }
                self.feed_now(data);
                // The protocol's end marker: finish now, so a caller that stops reading
                // there and drops the body is not counted as cancelling the call.
                let decoder = self.decoder.get_mut().unwrap_or_else(|e| e.into_inner());
                let complete = decoder
                    .as_ref()
                    .is_some_and(|d| contain("codec", || d.is_complete()).unwrap_or(false));
                if complete {
                    self.finish(End::Complete);
                }
            }
            Capture::Json(buf) => keep(buf, data, max, &mut self.rec.truncated),
            Capture::Error(buf) => {
                let mut ignored = false;
                keep(buf, data, max.min(MAX_ERROR_BODY), &mut ignored)
            }
            Capture::AwaitingHead | Capture::Opaque | Capture::Done => {}
        }
    }

    /// Split and decode stream bytes on the caller's path (past the capture cap).
    fn feed_now(&mut self, data: &[u8]) {
        let decoder = self.decoder.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Capture::Sse(splitter) = &mut self.rec.capture {
            let events = &mut self.rec.events;
            splitter.feed(data, &mut |event, data| {
                *events += 1;
                feed_event(decoder, event, data);
            });
        }
    }

    /// Whether the bytes kept so far end the stream: its end marker (see
    /// [`ResponseDecoder::end_marker`]) arrived and the event it is in is complete. The
    /// call is finished then, so that a caller that stops reading at the marker and holds
    /// on to the body does not hold the span open.
    fn ends_stream(&mut self) -> bool {
        let Some(marker) = &self.end_marker else {
            return false;
        };
        if !self.marker_seen {
            // Only the new bytes and the marker's length before them can hold it.
            let from = self.searched.saturating_sub(marker.needle().len());
            self.searched = self.rec.pending.len();
            self.marker_seen = marker.find(&self.rec.pending[from..]).is_some();
        }
        self.marker_seen
            && (self.rec.pending.ends_with(b"\n\n") || self.rec.pending.ends_with(b"\r\n\r\n"))
    }

    /// Finish the call (once; later calls do nothing): note the time, end the span's
    /// timing, and complete it ([`Ending::run`]: decoding what was kept, the response
    /// attributes and metrics, the log, closing the span): a plain call here, a stream as
    /// one job for the recorder's finisher thread.
    pub(crate) fn finish(&mut self, end: End) {
        if self.finished {
            return;
        }
        self.finished = true;
        let now = Instant::now();
        // tracing-opentelemetry takes a span's end time from its last exit: enter it once
        // more so that the end is now, not when the response head arrived nor when the
        // finisher gets to it.
        if self.rec.mode != Mode::LogOnly {
            drop(self.rec.span.enter());
        }
        let finished = self.rec.finished();
        let ending = Ending {
            rec: std::mem::replace(&mut self.rec, finished),
            decoder: self
                .decoder
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
            end,
            now,
        };
        // A plain call is completed here: handing it over cost more than the job, in the
        // caller's wall clock and in CPU (the other thread frees what this one allocated,
        // and glibc's allocator serialises the two on its arena lock). A stream, whose
        // chunks are decoded at the end, goes to the finisher.
        if !matches!(ending.rec.capture, Capture::Sse(_)) {
            return ending.run();
        }
        // Events the job emits (a codec's contained panic, say) go where the caller's
        // would have.
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        let bytes = ending.held_bytes();
        self.rec.recorder.finish_later(
            Box::new(move || tracing::dispatcher::with_default(&dispatch, || ending.run())),
            bytes,
        );
    }
}

/// A finished call, to complete: on the caller's thread (a plain call) or the finisher's
/// (a stream).
struct Ending {
    rec: Record,
    decoder: Option<Box<dyn ResponseDecoder>>,
    end: End,
    now: Instant,
}

impl Ending {
    /// The buffers this call holds until it is completed.
    fn held_bytes(&self) -> usize {
        let kept = match &self.rec.capture {
            Capture::Json(buf) | Capture::Error(buf) => buf.capacity(),
            _ => 0,
        };
        kept + self.rec.pending.capacity()
    }

    /// The request was not decoded on the caller's path: its head now (what the span, the
    /// metrics and the decoder need), the rest in the log (which also looks for the
    /// secret-named fields of its body: only the log's content needs them).
    fn decode_request(&mut self) {
        let Some(deferred) = self.rec.deferred.as_mut() else {
            return;
        };
        // Logged calls without a subscriber: the log decodes the whole request, and a JSON
        // body is decoded there too.
        let log_decodes =
            self.rec.mode == Mode::LogOnly && !matches!(self.rec.capture, Capture::Sse(_));
        if log_decodes {
            return;
        }
        // Not yet decoded (a stream past the capture cap decoded its head on the caller's
        // thread, with its decoder).
        if self.rec.request_pending {
            self.rec.request = request_head(Some(deferred), self.rec.detected.operation);
            self.decoder = contain("codec", || {
                self.rec.detected.codec.response_decoder(&self.rec.request)
            });
            if let Mode::Traced { .. } = self.rec.mode {
                semconv::record_request(
                    &self.rec.span,
                    &self.rec.request,
                    self.rec.recorder.config().semconv_profile(),
                );
            }
        }
        if self.rec.mode == Mode::LogOnly {
            return; // the log replaces the head with the whole request
        }
        if self.rec.mode.logged() {
            deferred.whole = false; // the log adds the messages, the system, the tools
        } else {
            self.rec.deferred = None;
        }
    }

    /// Complete the call: make the [`Finished`] record, settle its outcome when the span
    /// or the metrics need it, hand it to the exporter when it is logged, close the span.
    fn run(mut self) {
        let now = self.now;
        let mut end = self.end;
        if self.rec.deferred.is_some() {
            self.decode_request();
        }
        if let Mode::Traced { .. } = self.rec.mode {
            semconv::record_conversation_id(
                &self.rec.span,
                self.rec.ctx.session_reference_id.as_deref(),
                self.rec.ctx.session_named,
                self.rec.recorder.config().semconv_profile(),
            );
        }
        let config = self.rec.recorder.config();
        let mut decoder = self.decoder.take();
        let mut response_body = None;
        let mut deferred_output = false;
        let mut provider_error = None;
        let streamed = matches!(self.rec.capture, Capture::Sse(_)) || self.rec.request.stream;
        match std::mem::replace(&mut self.rec.capture, Capture::Done) {
            Capture::Sse(mut splitter) => {
                let events = &mut self.rec.events;
                let mut on_event = |event: Option<&str>, data: &[u8]| {
                    *events += 1;
                    feed_event(&mut decoder, event, data);
                };
                splitter.feed(&self.rec.pending, &mut on_event);
                splitter.finish(&mut on_event);
                self.rec.truncated |= splitter.truncated();
                // A caller that stops reading at the protocol's end marker and drops the
                // body has not cancelled the call.
                let complete = decoder
                    .as_ref()
                    .is_some_and(|d| contain("codec", || d.is_complete()).unwrap_or(false));
                if end == End::Cancelled && complete {
                    end = End::Complete;
                }
            }
            Capture::Json(buf) if self.rec.mode == Mode::LogOnly => {
                deferred_output = decoder.is_some();
                response_body = Some(buf);
            }
            Capture::Json(buf) => {
                // The span needs no output content unless it records it; a log with
                // content gets the full decode on the exporter's thread.
                let head_only = !self.rec.mode.content();
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
                let codec = &self.rec.detected.codec;
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
            .rec
            .first_chunk
            .filter(|_| streamed)
            .map(|t| (t - self.rec.started).as_secs_f64());
        let timing = Timing {
            duration: (now - self.rec.started).as_secs_f64(),
            time_to_first_chunk,
            time_per_output_chunk: match (self.rec.first_chunk, self.rec.last_chunk) {
                (Some(first), Some(last)) if streamed && self.rec.events > 1 => {
                    Some((last - first).as_secs_f64() / (self.rec.events - 1) as f64)
                }
                _ => None,
            },
        };
        let logged_content = config.log_content();
        let mut finished = Finished {
            detected: self.rec.detected,
            request: self.rec.request,
            deferred: self.rec.deferred,
            request_body: self.rec.request_body,
            response_body_logged: logged_content,
            response_body: response_body.filter(|_| logged_content || deferred_output),
            deferred_output: None,
            generation,
            status: self.rec.status,
            end,
            timing,
            error: None,
            created_at: self.rec.created_at,
            ctx: self.rec.ctx,
            secrets: self.rec.secrets,
            truncated: self.rec.truncated,
        };
        if deferred_output {
            finished.deferred_output = Some(finished.detected.codec.clone());
        }
        // The one scheduling choice: settle here what the span or the metrics need now,
        // or leave it all to `log::complete` on the exporter's thread.
        match self.rec.mode {
            Mode::LogOnly => {}
            Mode::MetricsOnly => finished.settle(config, None),
            Mode::Traced { content, .. } => {
                finished.settle(config, Some((&self.rec.span, content)))
            }
        }
        if self.rec.mode.logged() {
            let recorder = self.rec.recorder.clone();
            self.rec
                .recorder
                .submit(ExportRecord::Deferred(Box::new(move || {
                    log::complete(recorder.config(), finished)
                })));
        }
        // Closing the span (dropping the last handle) is when a subscriber exports it.
        drop(self.rec.span);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish(End::Cancelled);
    }
}

/// The head of a request not decoded on the caller's path (an empty one when the codec
/// panics). Codecs decode from the method, the URI and the body, never the headers.
fn request_head(d: Option<&DeferredRequest>, operation: crate::provider::Operation) -> LlmRequest {
    d.and_then(|d| {
        let headers = HeaderMap::new();
        let head = RequestHead {
            method: &d.method,
            uri: &d.uri,
            headers: &headers,
        };
        contain("codec", || d.codec.decode_request_head(&head, &d.body))
    })
    .unwrap_or_else(|| LlmRequest::empty(operation))
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
