//! The endpoint client's error type.
//!
//! One enum, [`Error`], for everything the [`Client`](crate::Client) can run into. It tells
//! apart what a caller reacts to differently:
//!
//! * [`Error::Api`]: the endpoint answered with an error status. The [`ApiError`] keeps the
//!   status, the headers (so `Retry-After`), the raw body and, for a 422, the parsed
//!   validation `detail` list.
//! * [`Error::Transport`]: the endpoint could not be reached, or the connection broke.
//! * [`Error::Decode`]: the endpoint answered something that is not the expected JSON; the
//!   error carries the start of the body.
//! * [`Error::StreamEndedEarly`]: a completion stream closed before every sample finished.
//! * [`Error::Config`] and [`Error::Setup`]: invalid configuration, or the HTTP client could
//!   not be built.
//!
//! [`Error::is_retryable`], [`Error::retry_after`] and [`Error::status`] are what a retry loop
//! needs.
//!
//! ```
//! use humanloop_tracing::Error;
//!
//! fn describe(err: &Error) -> String {
//!     match err.status() {
//!         Some(s) if s.as_u16() == 422 => format!("fix the request: {err}"),
//!         _ if err.is_retryable() => format!("try again later: {err}"),
//!         _ => err.to_string(),
//!     }
//! }
//! # let _ = describe;
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

use crate::api::ValidationError;

/// How much of a body an error keeps for display (the whole body is kept in [`ApiError::body`]).
const SNIPPET_CHARS: usize = 200;

/// Errors of the endpoint client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// The HTTP client could not be built (TLS roots or backend).
    #[error("could not set up the endpoint's HTTP client: {message}")]
    Setup {
        /// What failed, for people.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The endpoint could not be reached, the request timed out, or the connection broke
    /// while a body was read.
    #[error("{message}")]
    Transport {
        /// What went wrong, at which stage.
        kind: TransportKind,
        /// For people: the URL and the innermost cause.
        message: String,
        /// The HTTP client's error (`None` for a timeout the client itself enforced),
        /// boxed so that no HTTP client's type is part of this crate's API.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A request body could not be encoded as JSON (a map with non-string keys, a
    /// non-finite number in a `Value`).
    #[error("could not encode the request as JSON: {0}")]
    Encode(#[source] serde_json::Error),

    /// The endpoint answered with an error status (4xx, 5xx).
    #[error(transparent)]
    Api(Box<ApiError>),

    /// The endpoint answered, but not with the JSON expected.
    #[error(
        "could not decode the endpoint's answer{} as {expected}: {message}; the body starts with {snippet:?}",
        status_suffix(*.status)
    )]
    Decode {
        /// The status of the answer (`None` inside a stream).
        status: Option<StatusCode>,
        /// What was expected, e.g. `"a completion response"`.
        expected: &'static str,
        /// Why it did not decode.
        message: String,
        /// The start of the offending body or event data.
        snippet: String,
    },

    /// A completion stream closed before every sample sent its `finish_reason`: the
    /// output of those samples is truncated.
    #[error(
        "the completion stream closed before sample(s) {unfinished:?} finished{}; their output is truncated (the server or a proxy cut the connection)",
        expected_suffix(*.expected)
    )]
    StreamEndedEarly {
        /// Indices of the samples without a final chunk, ascending.
        unfinished: Vec<u32>,
        /// `num_samples` of the request or the stream, when known.
        expected: Option<u32>,
    },
}

fn status_suffix(status: Option<StatusCode>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

fn expected_suffix(expected: Option<u32>) -> String {
    expected
        .map(|n| format!(" (of {n} requested)"))
        .unwrap_or_default()
}

/// At which stage a [`Error::Transport`] happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// No connection could be made (DNS, refused, unreachable).
    Connect,
    /// The TLS handshake failed (an untrusted or invalid certificate): retrying will not
    /// help until the certificate or the trusted roots change.
    Tls,
    /// No answer within the configured timeout.
    Timeout,
    /// The request could not be sent, or the connection closed before an answer.
    Request,
    /// The connection broke while the answer's body was read.
    Body,
}

impl Error {
    #[cfg(feature = "transport")]
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            TransportKind::Timeout
        } else if tls_failure(&err) {
            TransportKind::Tls
        } else if err.is_connect() {
            TransportKind::Connect
        } else if err.is_body() || err.is_decode() {
            TransportKind::Body
        } else {
            TransportKind::Request
        };
        let url = err.url().cloned();
        Self::transport_kind(kind, url.as_ref(), Box::new(err))
    }

    /// A transport failure of any HTTP client, its message naming the stage, the URL
    /// (without credentials) and the innermost cause ("Connection refused"): what a user
    /// acts on.
    pub(crate) fn transport_kind(
        kind: TransportKind,
        url: Option<&url::Url>,
        err: Box<dyn std::error::Error + Send + Sync>,
    ) -> Self {
        let what = match kind {
            TransportKind::Connect => "could not connect",
            TransportKind::Tls => "failed the TLS handshake",
            TransportKind::Timeout => "timed out",
            TransportKind::Request => "failed",
            TransportKind::Body => "broke while the answer was read",
        };
        let url = url
            .map(|u| format!(" to {}", redact_url(u)))
            .unwrap_or_default();
        let message = match std::iter::successors(err.source(), |e| e.source()).last() {
            Some(root) => format!("request{url} {what}: {root}"),
            None => format!("request{url} {what}: {err}"),
        };
        Error::Transport {
            kind,
            message,
            source: Some(err),
        }
    }

    pub(crate) fn timeout(url: &url::Url, after: Duration) -> Self {
        Error::Transport {
            kind: TransportKind::Timeout,
            message: format!(
                "request to {} timed out: no answer within {after:?} (request_timeout)",
                redact_url(url)
            ),
            source: None,
        }
    }
}

/// Whether a rustls error sits in the chain (rustls errors arrive wrapped in `io::Error`,
/// whose `source()` skips the wrapped error itself, hence the `get_ref`).
#[cfg(any(feature = "rustls", feature = "rustls-ring"))]
fn tls_failure(err: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = next {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if inner.is::<rustls::Error>() {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// Without rustls no error in the chain names TLS: a native-tls failure reads as a
/// connection failure.
#[cfg(all(
    feature = "transport",
    not(any(feature = "rustls", feature = "rustls-ring"))
))]
fn tls_failure(_err: &reqwest::Error) -> bool {
    false
}

/// A URL without credentials, for messages.
fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// An error answer of the endpoint: status, headers, raw body and, for a 422, the parsed
/// validation errors.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The answer's headers (`Retry-After` among them).
    pub headers: HeaderMap,
    /// The raw body, whatever it was (JSON, text, HTML from a proxy).
    pub body: String,
    /// A 422's `detail` list; empty otherwise.
    pub validation: Vec<ValidationError>,
    /// The `detail` of a JSON error body (`{"detail": …}`), when there was one.
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    /// Build from an answer's parts, parsing the `detail` the endpoint sends.
    pub fn new(status: StatusCode, headers: HeaderMap, body: String) -> Self {
        let mut validation = Vec::new();
        let mut detail = None;
        if let Ok(serde_json::Value::Object(mut obj)) =
            serde_json::from_str::<serde_json::Value>(&body)
        {
            if let Some(d) = obj.remove("detail") {
                if status == StatusCode::UNPROCESSABLE_ENTITY {
                    if let Ok(list) = serde_json::from_value::<Vec<ValidationError>>(d.clone()) {
                        validation = list;
                    }
                }
                detail = Some(d);
            }
        }
        Self {
            status,
            headers,
            body,
            validation,
            detail,
        }
    }

    fn hint(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "; check the API key (HUMANLOOP_API_KEY)",
            403 => "; the API key is not allowed to do this",
            404 => "; check the base URL (HUMANLOOP_BASE_URL) and the ids in the request",
            408 | 429 => "; the request can be retried later",
            422 => "; fix the request",
            s if s >= 500 => "; the endpoint failed, the request can be retried",
            _ => "",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the endpoint answered {}", self.status)?;
        if !self.validation.is_empty() {
            f.write_str(": ")?;
            for (i, v) in self.validation.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{v}")?;
            }
        } else {
            match &self.detail {
                Some(serde_json::Value::String(s)) => write!(f, ": {}", snippet(s))?,
                Some(serde_json::Value::Null) | None => {
                    let body = self.body.trim();
                    if !body.is_empty() {
                        write!(f, ": {}", snippet(body))?;
                    }
                }
                Some(other) => write!(f, ": {}", snippet(&other.to_string()))?,
            }
        }
        if let Some(after) = retry_after_header(&self.headers) {
            write!(f, " (Retry-After: {}s)", after.as_secs())?;
        }
        f.write_str(self.hint())
    }
}

impl std::error::Error for ApiError {}

/// The first [`SNIPPET_CHARS`] characters of `s`, marked when cut.
pub(crate) fn snippet(s: &str) -> String {
    match s.char_indices().nth(SNIPPET_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// `Retry-After` as a duration from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(u32::MAX as f64)));
        }
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Error {
    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed: 408, 429 and 5xx answers, and
    /// connection failures and timeouts. Everything else (other 4xx, decode errors, a
    /// stream cut after it started) would fail the same way again, or is not safe to repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => is_retryable_status(e.status),
            Error::Transport { kind, .. } => matches!(
                kind,
                TransportKind::Connect | TransportKind::Timeout | TransportKind::Request
            ),
            _ => false,
        }
    }

    /// The wait the endpoint asked for with `Retry-After` (seconds or an HTTP-date), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(e) => retry_after_header(&e.headers),
            _ => None,
        }
    }

    /// The headers of the error answer, if there was one.
    pub fn headers(&self) -> Option<&HeaderMap> {
        match self {
            Error::Api(e) => Some(&e.headers),
            _ => None,
        }
    }

    /// The raw body of the error answer, if there was one.
    pub fn body(&self) -> Option<&str> {
        match self {
            Error::Api(e) => Some(&e.body),
            _ => None,
        }
    }

    /// A 422's validation errors (`detail` list); empty for anything else.
    pub fn validation_errors(&self) -> &[ValidationError] {
        match self {
            Error::Api(e) => &e.validation,
            _ => &[],
        }
    }

    /// The [`ApiError`] when the endpoint answered with an error status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn decode(
        status: Option<StatusCode>,
        expected: &'static str,
        message: impl fmt::Display,
        body: &str,
    ) -> Self {
        Error::Decode {
            status,
            expected,
            message: message.to_string(),
            snippet: snippet(body),
        }
    }
}

// Errors cross tasks and threads (the exporter's worker) and go into `Box<dyn Error>`.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
};

/// 408, 429 and 5xx: the statuses worth retrying.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}
