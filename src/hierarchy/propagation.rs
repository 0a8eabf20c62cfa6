//! Across services: the session and the parent step travel as W3C `baggage` entries
//! (beside `traceparent` with feature `otel`), so an LLM call in service B joins service A's
//! session under A's step.
//!
//! Client side: [`inject`] into the outgoing request's headers. Server side: [`extract`]
//! and [`RemoteContext::span`], or the tower layer [`ExtractLayer`] (feature `tower`).

use http::header::{HeaderMap, HeaderValue};
use tracing::field::Empty;

use super::context;

/// Baggage key of the session key.
pub const BAGGAGE_SESSION: &str = "humanloop.session";
/// Baggage key of the parent step's reference id.
pub const BAGGAGE_PARENT: &str = "humanloop.parent";

const BAGGAGE: &str = "baggage";

/// Add the current span's session and parent step to `headers` (as `baggage` entries, and
/// `traceparent` with feature `otel` when an OpenTelemetry layer runs). Existing baggage
/// entries are kept. Does nothing outside any span.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// humanloop_tracing::hierarchy::inject(&mut headers);
/// // ... send the request with `headers` ...
/// ```
pub fn inject(headers: &mut HeaderMap) {
    inject_from(&tracing::Span::current(), headers);
}

/// [`inject`] for a given span rather than the current one.
pub fn inject_from(span: &tracing::Span, headers: &mut HeaderMap) {
    let found = span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span_ref = tracing_subscriber::registry::LookupSpan::span(registry, id)?;
        let resolved = context::resolve(&span_ref, dispatch, false);
        #[cfg(feature = "otel")]
        let traceparent =
            super::otel::span_context(id, dispatch).map(|sc| super::otel::traceparent(&sc));
        #[cfg(not(feature = "otel"))]
        let traceparent: Option<String> = None;
        Some((resolved.session, resolved.parent, traceparent))
    });
    let Some(Some((session, parent, traceparent))) = found else {
        return;
    };
    if let Some(tp) = traceparent.and_then(|tp| HeaderValue::from_str(&tp).ok()) {
        headers.insert("traceparent", tp);
    }
    let mut entries: Vec<String> = headers
        .get_all(BAGGAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| {
            let key = e.split(['=', ';']).next().unwrap_or("").trim();
            !e.is_empty() && key != BAGGAGE_SESSION && key != BAGGAGE_PARENT
        })
        .map(str::to_owned)
        .collect();
    if let Some(s) = &session {
        entries.push(format!("{BAGGAGE_SESSION}={}", encode(s)));
    }
    if let Some(p) = &parent {
        entries.push(format!("{BAGGAGE_PARENT}={}", encode(p)));
    }
    if entries.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&entries.join(",")) {
        headers.insert(BAGGAGE, v);
    }
}

/// What an incoming request says about the caller's session and step.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RemoteContext {
    /// The caller's session key.
    pub session: Option<String>,
    /// The reference id of the caller's enclosing step.
    pub parent: Option<String>,
    /// The caller's `traceparent`, when valid.
    pub traceparent: Option<String>,
}

/// Read the `baggage` entries [`inject`] wrote (and `traceparent`). Malformed entries are
/// ignored.
pub fn extract(headers: &HeaderMap) -> RemoteContext {
    let mut out = RemoteContext::default();
    for value in headers
        .get_all(BAGGAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for entry in value.split(',') {
            // `key=value;properties`
            let entry = entry.split(';').next().unwrap_or("");
            let Some((key, val)) = entry.split_once('=') else {
                continue;
            };
            let Some(val) = decode(val.trim()).filter(|v| !v.is_empty()) else {
                continue;
            };
            match key.trim() {
                BAGGAGE_SESSION => out.session = Some(val),
                BAGGAGE_PARENT => out.parent = Some(val),
                _ => {}
            }
        }
    }
    out.traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned());
    out
}

impl RemoteContext {
    /// A span that puts what runs inside it into the caller's session, under the caller's
    /// step (and, with feature `otel`, into the caller's trace). Enter it (or
    /// `.instrument(span)`) around the request's handling.
    pub fn span(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "humanloop.remote",
            humanloop.session = Empty,
            humanloop.parent_reference_id = Empty,
        );
        if let Some(s) = &self.session {
            span.record("humanloop.session", s.as_str());
        }
        if let Some(p) = &self.parent {
            span.record("humanloop.parent_reference_id", p.as_str());
        }
        #[cfg(feature = "otel")]
        if let Some(sc) = self
            .traceparent
            .as_deref()
            .and_then(super::otel::parse_traceparent)
        {
            super::otel::set_remote_parent(&span, sc);
        }
        span
    }
}

/// Percent-encode what is not a W3C baggage octet (and `%` itself).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        let plain =
            matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(feature = "tower")]
pub use self::tower::{ExtractLayer, ExtractService};

#[cfg(feature = "tower")]
mod tower {
    use std::task::{Context, Poll};

    use tracing::instrument::{Instrument, Instrumented};

    /// A tower layer for servers: each request is handled inside the span of its
    /// [`RemoteContext`](super::RemoteContext), so LLM calls and steps made while handling
    /// it join the caller's session under the caller's step.
    ///
    /// ```
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "ok" }))
    ///     .layer(humanloop_tracing::hierarchy::ExtractLayer::new());
    /// # drop(app);
    /// ```
    #[derive(Clone, Copy, Debug, Default)]
    pub struct ExtractLayer {
        _private: (),
    }

    impl ExtractLayer {
        /// The layer.
        pub fn new() -> Self {
            Self::default()
        }
    }

    impl<S> tower_layer::Layer<S> for ExtractLayer {
        type Service = ExtractService<S>;
        fn layer(&self, inner: S) -> ExtractService<S> {
            ExtractService { inner }
        }
    }

    /// The service of [`ExtractLayer`].
    #[derive(Clone, Debug)]
    pub struct ExtractService<S> {
        inner: S,
    }

    impl<S, B> tower_service::Service<http::Request<B>> for ExtractService<S>
    where
        S: tower_service::Service<http::Request<B>>,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = Instrumented<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: http::Request<B>) -> Self::Future {
            let span = super::extract(req.headers()).span();
            let future = span.in_scope(|| self.inner.call(req));
            future.instrument(span)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_values_round_trip() {
        for v in ["plain", "with space, comma;semi=eq%", "ünïcode"] {
            assert_eq!(decode(&encode(v)).as_deref(), Some(v));
        }
        let mut h = HeaderMap::new();
        h.insert(
            BAGGAGE,
            HeaderValue::from_static("other=1,humanloop.session=a%20b;prop,humanloop.parent=p1"),
        );
        let rc = extract(&h);
        assert_eq!(rc.session.as_deref(), Some("a b"));
        assert_eq!(rc.parent.as_deref(), Some("p1"));
        assert!(decode("%zz").is_none());
    }
}
