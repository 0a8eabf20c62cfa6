//! The capture core both adapters share: recognise an LLM call, open its span, tee its
//! response body, and finish the call exactly once.
//!
//! # The way a call travels
//!
//! 1. **Detect.** The adapter builds a [`RequestHead`] and asks the configured
//!    [`Registry`](crate::provider::Registry). Not an LLM call, or tracing disabled: the
//!    request passes through untouched, with no span and nothing allocated.
//! 2. **Start.** The provider's codec decodes the request body (when the adapter could
//!    read it); the inference span opens as a child of the current span with every
//!    attribute known at start (see [`crate::semconv`]); the hierarchy supplies the
//!    call's reference ids; with the `otel` feature the W3C `traceparent` of the new span
//!    is injected into the outgoing request through the global propagator.
//! 3. **Head.** When the response head arrives its status and content type choose how
//!    the body is watched: server-sent events (`text/event-stream`) go through an
//!    incremental splitter that feeds the codec event by event; any other 2xx body is
//!    kept up to [`Config::max_capture_bytes`](crate::Config::max_capture_bytes) and
//!    decoded at the end (past the cap the call is still traced, its output marked
//!    truncated); an error status keeps the error body for the codec's error decoder; a
//!    `Content-Encoding` other than `identity` is not decoded at all (the call is traced
//!    without response details).
//! 4. **Tee.** The body is wrapped in a [`TeeBody`]: each frame goes to the caller,
//!    unchanged, in the poll that produced it; the capture reads it through a borrow.
//! 5. **Finish**, exactly once, whichever comes first: end of stream, a body error, the
//!    caller dropping the body early (`error.type = cancelled`, partial output and usage
//!    kept), the response future dropped before the head arrived (also `cancelled`), or a
//!    transport error (`_OTHER`). Finishing records the response attributes and
//!    metrics, hands the exporter a deferred log (built on the exporter's thread, never
//!    on the caller's), and ends the span. The span ends when the call finishes, not
//!    when the caller lets go of the response later.
//!
//! Nothing here can fail the caller's request: codec panics are contained, unreadable
//! bodies yield empty fields, and the bytes the caller sees are the bytes the server
//! sent.

// Without an adapter the core has no users.
#![cfg_attr(
    not(any(feature = "tower", feature = "reqwest")),
    allow(dead_code, unused_imports)
)]

pub(crate) mod attempt;
mod call;
mod finisher;
mod log;
mod ndjson;
mod outcome;
mod recorder;
mod sse;
mod tee;

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::Body;

pub(crate) use call::Call;
pub(crate) use outcome::End;
pub(crate) use recorder::Recorder;
pub use tee::TeeBody;

use crate::provider::{Detected, RequestHead};
use crate::redact;

/// Recognise an LLM call: `None` when tracing is disabled or the request is not one.
pub(crate) fn detect(recorder: &Recorder, head: &RequestHead<'_>) -> Option<Detected> {
    let config = recorder.config();
    if !config.enabled() {
        return None;
    }
    config.registry().detect(head)
}

/// Read a request body that is already in memory, without waiting, and put an
/// equivalent body back.
///
/// Only bodies with an exact size hint no larger than `cap` are read, and only as far
/// as they yield frames immediately: `Full<Bytes>`, a reqwest body built from bytes, an
/// axum body built from bytes (every body built from bytes in memory) are read whole
/// and rebuilt with `B::from(bytes)` (for a single-frame body without copying). A body
/// that would wait before its first frame is left untouched and the call is traced
/// without request details. Trailers of a request body that was read are not kept
/// (LLM APIs do not use them). A body that reports an exact size, yields part of it
/// and then waits cannot be put back whole with `From<Bytes>`: what it yielded is sent
/// and the rest is lost, so such a body (none of the in-memory bodies above) must not
/// be used with the tower layer.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn read_ready_body<B>(body: &mut B, cap: usize) -> Option<Bytes>
where
    B: Body + From<Bytes> + Unpin,
{
    let exact = body.size_hint().exact()?;
    if exact > cap as u64 {
        return None;
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    loop {
        match Pin::new(&mut *body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let Ok(mut data) = frame.into_data() else {
                    continue; // trailers
                };
                let chunk = data.copy_to_bytes(data.remaining()); // free for `Bytes`
                match (&mut first, &mut rest) {
                    (None, _) => first = Some(chunk),
                    (Some(f), None) => {
                        let mut all = BytesMut::with_capacity(exact as usize);
                        all.extend_from_slice(f);
                        all.extend_from_slice(&chunk);
                        rest = Some(all);
                    }
                    (Some(_), Some(all)) => all.extend_from_slice(&chunk),
                }
            }
            Poll::Ready(None) => break,
            Poll::Pending if first.is_none() => return None, // untouched: nothing read
            // Read in part: put back what was read (see above) and stop capturing.
            Poll::Pending | Poll::Ready(Some(Err(_))) => {
                let read = rest.map(BytesMut::freeze).or(first).unwrap_or_default();
                *body = B::from(read);
                return None;
            }
        }
    }
    let bytes = rest.map(BytesMut::freeze).or(first).unwrap_or_default();
    *body = B::from(bytes.clone());
    Some(bytes)
}

/// Inject the W3C trace context of `span` into outgoing `headers` (`otel` feature;
/// without it, nothing to do): through the global propagator when the application set
/// one, else `traceparent` (and `tracestate`) written here, so that a provider or proxy
/// that reads them joins the trace without any setup. Off with
/// [`ConfigBuilder::trace_context(false)`](crate::ConfigBuilder::trace_context).
pub(crate) fn inject_trace_context(
    config: &crate::config::Config,
    span: &tracing::Span,
    headers: &mut HeaderMap,
) {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;

        struct Injector<'a>(&'a mut HeaderMap, bool);
        impl opentelemetry::propagation::Injector for Injector<'_> {
            fn set(&mut self, key: &str, value: String) {
                if let (Ok(name), Ok(value)) = (
                    http::header::HeaderName::from_bytes(key.as_bytes()),
                    http::header::HeaderValue::from_str(&value),
                ) {
                    self.0.insert(name, value);
                    self.1 = true;
                }
            }
        }
        if span.is_disabled() || !config.trace_context() {
            return;
        }
        let cx = span.context();
        let mut injector = Injector(headers, false);
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injector));
        if injector.1 {
            return;
        }
        // No global propagator (the default no-op one wrote nothing): W3C trace context.
        let sc = cx.span().span_context().clone();
        if !sc.is_valid() {
            return;
        }
        let tp = crate::hierarchy::traceparent_of(&sc);
        if let Ok(v) = http::header::HeaderValue::from_str(&tp) {
            headers.insert("traceparent", v);
        }
        let state = sc.trace_state().header();
        if !state.is_empty() {
            if let Ok(v) = http::header::HeaderValue::from_str(&state) {
                headers.insert("tracestate", v);
            }
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (config, span, headers);
}

/// The secrets a request carries in its head: never recorded, and scrubbed from
/// anything recorded (a provider that echoes a key in an error message, say).
#[derive(Default)]
pub(crate) struct Secrets(Vec<String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} hidden)", self.0.len())
    }
}

impl Secrets {
    /// The secrets in a request head: key headers (a `Bearer ` prefix removed) and
    /// `key` query parameters (Gemini).
    pub(crate) fn from_head(head: &RequestHead<'_>) -> Secrets {
        let mut out = Vec::new();
        for name in &redact::SECRET_HEADERS {
            for v in head.headers.get_all(name) {
                if let Ok(v) = v.to_str() {
                    let v = v.trim();
                    let token = v
                        .split_once(' ')
                        .filter(|(scheme, _)| !scheme.is_empty() && !scheme.contains('-'))
                        .map_or(v, |(_, t)| t.trim());
                    out.push(token.to_owned());
                    out.push(v.to_owned());
                }
            }
        }
        if let Some(q) = head.uri.query() {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                if redact::CAPTURED_SECRET_KEYS.matches(&k) {
                    out.push(v.into_owned());
                }
            }
        }
        Secrets::finish(out)
    }

    /// Also the values of secret-named fields of a JSON request body (`"api_key": …`: some
    /// servers take the key there), so that a provider quoting them back in an error is
    /// scrubbed too. Bodies that name no such field (nearly all) are not parsed.
    pub(crate) fn add_from_body(&mut self, body: &[u8]) {
        if !redact::CAPTURED_SECRET_KEYS.named_in(body) {
            return;
        }
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let mut out = std::mem::take(&mut self.0);
        redact::secret_values(&mut v, &redact::CAPTURED_SECRET_KEYS, &mut out);
        *self = Secrets::finish(out);
    }

    fn finish(mut out: Vec<String>) -> Secrets {
        // Short values would scrub ordinary words; real keys are long.
        out.retain(|s| s.len() >= 8);
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        Secrets(out)
    }

    /// Whether any secret occurs in `bytes` as it is (no unescaping).
    pub(crate) fn found_in(&self, bytes: &[u8]) -> bool {
        self.0
            .iter()
            .any(|s| memchr::memmem::find(bytes, s.as_bytes()).is_some())
    }

    /// Replace every occurrence of a secret in `s`.
    pub(crate) fn scrub(&self, s: &mut String) {
        for secret in &self.0 {
            if s.contains(secret.as_str()) {
                *s = s.replace(secret.as_str(), redact::REDACTED);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    #[test]
    fn an_in_memory_body_is_read_and_rebuilt() {
        let mut body = Full::new(Bytes::from_static(b"{\"model\":\"m\"}"));
        let read = read_ready_body(&mut body, 1024).unwrap();
        assert_eq!(&read[..], b"{\"model\":\"m\"}");
        let rebuilt = futures_util::FutureExt::now_or_never(body.collect())
            .unwrap()
            .unwrap()
            .to_bytes();
        assert_eq!(rebuilt, read);
    }

    #[test]
    fn a_body_over_the_cap_is_left_alone() {
        let mut body = Full::new(Bytes::from_static(b"0123456789"));
        assert!(read_ready_body(&mut body, 9).is_none());
        assert_eq!(body.size_hint().exact(), Some(10));
    }

    /// A body built from bytes whose size is unknown up front (a stream) is not read.
    #[derive(Debug)]
    struct Streaming(
        StreamBody<futures_util::stream::Pending<Result<http_body::Frame<Bytes>, std::io::Error>>>,
    );

    impl From<Bytes> for Streaming {
        fn from(_: Bytes) -> Self {
            unreachable!("a body that was not read is never rebuilt")
        }
    }

    impl Body for Streaming {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Pin::new(&mut self.0).poll_frame(cx)
        }
        fn size_hint(&self) -> http_body::SizeHint {
            http_body::SizeHint::with_exact(4)
        }
    }

    #[test]
    fn a_body_that_would_wait_is_left_untouched() {
        let mut body = Streaming(StreamBody::new(futures_util::stream::pending()));
        assert!(read_ready_body(&mut body, 1024).is_none());
    }

    #[test]
    fn body_keys_are_secrets_too() {
        let mut secrets = Secrets::default();
        secrets.add_from_body(
            br#"{"model": "m", "Api_Key": "sk-body-0123456789", "n": [{"key": "short"}]}"#,
        );
        let mut s = "bad key sk-body-0123456789; short".to_owned();
        secrets.scrub(&mut s);
        assert_eq!(s, "bad key [REDACTED]; short");
    }
}
