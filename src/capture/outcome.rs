//! How a call ended and what that means: the leaf both the call record (`call.rs`) and
//! the log builder (`log.rs`) read, so neither depends on the other's internals.

use http::StatusCode;

use crate::provider::{Detected, Generation, LlmRequest};
use crate::semconv;

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
        profile: semconv::Profile,
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
            profile,
        });
        #[cfg(not(feature = "otel"))]
        let _ = (profile, detected, request, generation, error_type);
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
