//! The OpenTelemetry GenAI semantic conventions as this crate emits them: attribute keys,
//! the inference span, and the client metrics.
//!
//! Keys are defined here once, as `pub const`s, so that tests and users name the same
//! thing the code records (the `opentelemetry-semantic-conventions` crate only has them
//! behind an experimental feature, marked deprecated).
//!
//! Every call the middleware recognises becomes one span named
//! `{gen_ai.operation.name} {gen_ai.request.model}` (e.g. `chat gpt-4o-mini`), of kind
//! client, child of the span current when the request was sent:
//!
//! * at start: [`GEN_AI_OPERATION_NAME`], [`GEN_AI_PROVIDER_NAME`], [`GEN_AI_REQUEST_MODEL`],
//!   [`SERVER_ADDRESS`], [`SERVER_PORT`] and the request parameters
//!   (`gen_ai.request.temperature`, …; [`GEN_AI_REQUEST_CHOICE_COUNT`] only when ≠ 1,
//!   [`GEN_AI_REQUEST_STREAM`] only when true), [`GEN_AI_CONVERSATION_ID`];
//! * at the end: [`GEN_AI_RESPONSE_ID`], [`GEN_AI_RESPONSE_MODEL`],
//!   [`GEN_AI_RESPONSE_FINISH_REASONS`], [`GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK`], the
//!   `gen_ai.usage.*` counts and, on failure, status error with [`ERROR_TYPE`];
//! * content ([`GEN_AI_INPUT_MESSAGES`], [`GEN_AI_OUTPUT_MESSAGES`],
//!   [`GEN_AI_SYSTEM_INSTRUCTIONS`]) only when `Config::capture_content` is on.
//!
//! The span is an ordinary `tracing` span at level INFO with target `humanloop_tracing`:
//! OpenTelemetry specifics ride on tracing-opentelemetry's special fields (`otel.name`,
//! `otel.kind`, `otel.status_code`), so the scalar attributes work with any subscriber.
//! String arrays ([`GEN_AI_RESPONSE_FINISH_REASONS`], [`GEN_AI_REQUEST_STOP_SEQUENCES`])
//! need the `otel` feature to be recorded as arrays; without it the finish reasons are
//! recorded as a JSON string and the stop sequences are left out (a `tracing` span can
//! declare at most 32 fields).
//!
//! With the `otel` feature the four GenAI client histograms are recorded through
//! `opentelemetry::global::meter("humanloop_tracing")`, with the bucket boundaries the
//! conventions recommend. The instruments are created on the first LLM call, from the
//! meter provider installed at that moment: install yours before the first call.

use tracing::Span;

use crate::provider::{Detected, Generation, LlmRequest};

/// `gen_ai.operation.name`: `chat`, `text_completion`, `generate_content`, `embeddings`.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.provider.name`: `openai`, `anthropic`, `gcp.gemini`, `azure.ai.openai`, ….
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.request.model`.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.request.temperature` (double).
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// `gen_ai.request.top_p` (double).
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// `gen_ai.request.top_k` (double).
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// `gen_ai.request.max_tokens` (int).
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// `gen_ai.request.frequency_penalty` (double).
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// `gen_ai.request.presence_penalty` (double).
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// `gen_ai.request.seed` (int).
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// `gen_ai.request.stop_sequences` (string array; `otel` feature).
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// `gen_ai.request.choice.count` (int), only when not 1.
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// `gen_ai.request.stream` (bool), only when true.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// `gen_ai.output.type`: `text`, `json`, `image`, `speech`.
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";
/// `gen_ai.conversation.id`: the session key.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.response.id`.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// `gen_ai.response.model`.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.response.finish_reasons` (string array, one per choice).
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.response.time_to_first_chunk` (seconds, double).
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
/// `gen_ai.usage.input_tokens` (int; includes cached tokens).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens` (int; includes reasoning tokens).
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.cache_read.input_tokens` (int).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// `gen_ai.usage.cache_creation.input_tokens` (int).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// `gen_ai.usage.reasoning.output_tokens` (int).
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// `gen_ai.input.messages`: JSON string in the parts format (opt-in content).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// `gen_ai.output.messages`: JSON string in the parts format (opt-in content).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// `gen_ai.system_instructions`: JSON string, a list of parts (opt-in content).
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// `gen_ai.token.type` on the token usage metric: `input` or `output`.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port` (int).
pub const SERVER_PORT: &str = "server.port";
/// `error.type`: the provider's error code, the HTTP status (`429`), `cancelled` when
/// the caller dropped the response early, or `_OTHER`.
pub const ERROR_TYPE: &str = "error.type";
/// `humanloop.output.truncated` (bool, `otel` feature): the response outgrew
/// `Config::max_capture_bytes`, so the recorded output and usage may be incomplete.
pub const HUMANLOOP_OUTPUT_TRUNCATED: &str = "humanloop.output.truncated";
/// tracing-opentelemetry's special field for the span status.
pub const OTEL_STATUS_CODE: &str = "otel.status_code";

/// `error.type` of a call the caller abandoned (dropped the response or its body).
pub const ERROR_CANCELLED: &str = "cancelled";
/// `error.type` of a failure with no better name (transport errors).
pub const ERROR_OTHER: &str = "_OTHER";

/// Metric `gen_ai.client.token.usage` (`{token}`, histogram).
pub const METRIC_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Metric `gen_ai.client.operation.duration` (s, histogram).
pub const METRIC_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Metric `gen_ai.client.operation.time_to_first_chunk` (s, histogram; streaming).
pub const METRIC_TIME_TO_FIRST_CHUNK: &str = "gen_ai.client.operation.time_to_first_chunk";
/// Metric `gen_ai.client.operation.time_per_output_chunk` (s, histogram; streaming).
pub const METRIC_TIME_PER_OUTPUT_CHUNK: &str = "gen_ai.client.operation.time_per_output_chunk";

/// Bucket boundaries of [`METRIC_TOKEN_USAGE`].
pub const TOKEN_USAGE_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Bucket boundaries of the duration metrics (seconds).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The name of an inference span: `{operation} {model}`, or the operation alone.
pub(crate) fn span_name(request: &LlmRequest) -> String {
    match request.model.as_deref() {
        Some(m) if !m.is_empty() => format!("{} {m}", request.operation.as_str()),
        _ => request.operation.as_str().to_owned(),
    }
}

fn choice_count(request: &LlmRequest) -> Option<i64> {
    request.params.choice_count.filter(|&n| n != 1)
}

/// `http.request.resend_count`: the attempt's number minus one, on a call that a client's
/// retry loop repeated (feature `otel`; the log's metadata has the attempt in any build).
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";

/// Name of the span a call gets inside another library's inference span.
pub const NESTED_SPAN_NAME: &str = "gen_ai.http";

/// `true` on the span of a call made inside another library's GenAI inference span.
pub const HUMANLOOP_INFERENCE_NESTED: &str = "humanloop.inference.nested";

/// Whether the current span already is a GenAI inference span: it declares
/// `gen_ai.operation.name` (rig's `chat`, genai's `otel` spans, an outer adapter of ours).
fn in_inference_span() -> bool {
    Span::current()
        .metadata()
        .is_some_and(|m| m.fields().field(GEN_AI_OPERATION_NAME).is_some())
}

/// The span of a call inside another inference span: one inference, one inference span.
/// Following the GenAI conventions' proposal to suppress nested inference spans, it
/// carries no `gen_ai.operation.name` and no `gen_ai.usage.*` (a backend summing tokens
/// over inference spans counts them once, from the outer span) but stays a client span
/// with the transport's facts: server, duration, `error.type`, and the marker
/// [`HUMANLOOP_INFERENCE_NESTED`]. The call's log and metrics are unchanged.
fn nested_span(detected: &Detected, request: &LlmRequest) -> Span {
    use tracing::field::Empty;
    tracing::info_span!(
        target: "humanloop_tracing",
        NESTED_SPAN_NAME,
        otel.name = format!("{} (http)", span_name(request)),
        otel.kind = "client",
        otel.status_code = Empty,
        server.address = detected.server_address.as_deref(),
        server.port = detected.server_port.map(i64::from),
        humanloop.inference.nested = true,
        error.type = Empty,
    )
}

/// Whether `span` is the marked span of a nested call.
fn is_nested(span: &Span) -> bool {
    span.metadata()
        .is_some_and(|m| m.name() == NESTED_SPAN_NAME)
}

/// Open the inference span for `request`, child of the current span, with every
/// attribute known at start. (`gen_ai.response.finish_reasons` is declared for the
/// JSON-string form; with `otel` it is set as a string array instead, and stop sequences
/// too, through the OTel span.)
pub(crate) fn inference_span(detected: &Detected, request: &LlmRequest) -> Span {
    use tracing::field::Empty;
    if in_inference_span() {
        return nested_span(detected, request);
    }
    let p = &request.params;
    let span = tracing::info_span!(
        target: "humanloop_tracing",
        "gen_ai",
        otel.name = span_name(request),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = request.operation.as_str(),
        gen_ai.provider.name = &*detected.provider,
        gen_ai.request.model = request.model.as_deref(),
        server.address = detected.server_address.as_deref(),
        server.port = detected.server_port.map(i64::from),
        gen_ai.request.temperature = p.temperature,
        gen_ai.request.top_p = p.top_p,
        gen_ai.request.top_k = p.top_k,
        gen_ai.request.max_tokens = p.max_tokens,
        gen_ai.request.frequency_penalty = p.frequency_penalty,
        gen_ai.request.presence_penalty = p.presence_penalty,
        gen_ai.request.seed = p.seed,
        gen_ai.request.choice.count = choice_count(request),
        gen_ai.request.stream = request.stream.then_some(true),
        gen_ai.output.type = p.output_type.as_deref(),
        gen_ai.conversation.id = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.model = Empty,
        gen_ai.response.finish_reasons = Empty,
        gen_ai.response.time_to_first_chunk = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.usage.reasoning.output_tokens = Empty,
        error.type = Empty,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
        gen_ai.system_instructions = Empty,
    );
    #[cfg(feature = "otel")]
    if !p.stop_sequences.is_empty() {
        set_string_array(&span, GEN_AI_REQUEST_STOP_SEQUENCES, &p.stop_sequences);
    }
    span
}

#[cfg(feature = "otel")]
pub(crate) fn set_string_array(span: &Span, key: &'static str, values: &[impl AsRef<str>]) {
    use opentelemetry::{Array, StringValue, Value};
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let values: Vec<StringValue> = values
        .iter()
        .map(|v| StringValue::from(v.as_ref().to_owned()))
        .collect();
    span.set_attribute(key, Value::Array(Array::String(values)));
}

/// Everything recorded when a call ends.
#[derive(Debug)]
pub(crate) struct CallOutcome<'a> {
    /// The decoded response.
    pub generation: &'a Generation,
    /// Seconds from sending the request to the first body chunk, for streaming calls.
    pub time_to_first_chunk: Option<f64>,
    /// `error.type` when the call failed.
    pub error_type: Option<&'a str>,
    /// The captured response outgrew the cap.
    pub truncated: bool,
}

/// Record the response attributes (and the error status) on the inference span.
pub(crate) fn record_outcome(span: &Span, outcome: &CallOutcome<'_>) {
    if is_nested(span) {
        if let Some(error_type) = outcome.error_type {
            span.record(ERROR_TYPE, error_type);
            span.record(OTEL_STATUS_CODE, "ERROR");
        }
        return;
    }
    let g = outcome.generation;
    if let Some(id) = &g.response_id {
        span.record(GEN_AI_RESPONSE_ID, id.as_str());
    }
    if let Some(model) = &g.response_model {
        span.record(GEN_AI_RESPONSE_MODEL, model.as_str());
    }
    let reasons = g.finish_reasons();
    if !reasons.is_empty() {
        #[cfg(feature = "otel")]
        set_string_array(span, GEN_AI_RESPONSE_FINISH_REASONS, &reasons);
        #[cfg(not(feature = "otel"))]
        if let Ok(json) = serde_json::to_string(&reasons) {
            span.record(GEN_AI_RESPONSE_FINISH_REASONS, json.as_str());
        }
    }
    if let Some(t) = outcome.time_to_first_chunk {
        span.record(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, t);
    }
    let u = &g.usage;
    for (key, value) in [
        (GEN_AI_USAGE_INPUT_TOKENS, u.input_tokens),
        (GEN_AI_USAGE_OUTPUT_TOKENS, u.output_tokens),
        (
            GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            u.cache_read_input_tokens,
        ),
        (
            GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            u.cache_creation_input_tokens,
        ),
        (
            GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            u.reasoning_output_tokens,
        ),
    ] {
        if let Some(v) = value {
            span.record(key, v);
        }
    }
    if outcome.truncated {
        #[cfg(feature = "otel")]
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            span.set_attribute(HUMANLOOP_OUTPUT_TRUNCATED, true);
        }
    }
    if let Some(error_type) = outcome.error_type {
        span.record(ERROR_TYPE, error_type);
        span.record(OTEL_STATUS_CODE, "ERROR");
    }
}

/// The GenAI client metrics (with the `otel` feature; no-ops without it).
#[cfg(feature = "otel")]
pub(crate) mod metrics {
    use std::sync::OnceLock;

    use opentelemetry::metrics::Histogram;
    use opentelemetry::KeyValue;

    use super::*;

    struct Instruments {
        token_usage: Histogram<u64>,
        duration: Histogram<f64>,
        time_to_first_chunk: Histogram<f64>,
        time_per_output_chunk: Histogram<f64>,
    }

    fn instruments() -> &'static Instruments {
        static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
        INSTRUMENTS.get_or_init(|| {
            let meter = opentelemetry::global::meter("humanloop_tracing");
            let seconds = |name: &'static str, description: &'static str| {
                meter
                    .f64_histogram(name)
                    .with_unit("s")
                    .with_description(description)
                    .with_boundaries(DURATION_BUCKETS.to_vec())
                    .build()
            };
            Instruments {
                token_usage: meter
                    .u64_histogram(METRIC_TOKEN_USAGE)
                    .with_unit("{token}")
                    .with_description("Number of input and output tokens used")
                    .with_boundaries(TOKEN_USAGE_BUCKETS.to_vec())
                    .build(),
                duration: seconds(METRIC_OPERATION_DURATION, "GenAI operation duration"),
                time_to_first_chunk: seconds(
                    METRIC_TIME_TO_FIRST_CHUNK,
                    "Time to receive the first chunk of a streaming response",
                ),
                time_per_output_chunk: seconds(
                    METRIC_TIME_PER_OUTPUT_CHUNK,
                    "Time between consecutive chunks of a streaming response",
                ),
            }
        })
    }

    /// One finished call, as the metrics see it.
    #[derive(Debug)]
    pub(crate) struct CallMetrics<'a> {
        pub detected: &'a Detected,
        pub request: &'a LlmRequest,
        pub generation: &'a Generation,
        pub duration: f64,
        pub time_to_first_chunk: Option<f64>,
        /// Mean time between chunks after the first one.
        pub time_per_output_chunk: Option<f64>,
        pub error_type: Option<&'a str>,
    }

    /// Record one finished call.
    pub(crate) fn record(m: &CallMetrics<'_>) {
        let ins = instruments();
        let mut attrs = Vec::with_capacity(7);
        attrs.push(KeyValue::new(
            GEN_AI_OPERATION_NAME,
            m.request.operation.as_str(),
        ));
        attrs.push(KeyValue::new(
            GEN_AI_PROVIDER_NAME,
            m.detected.provider.to_string(),
        ));
        if let Some(model) = &m.request.model {
            attrs.push(KeyValue::new(GEN_AI_REQUEST_MODEL, model.clone()));
        }
        if let Some(model) = &m.generation.response_model {
            attrs.push(KeyValue::new(GEN_AI_RESPONSE_MODEL, model.clone()));
        }
        if let Some(addr) = &m.detected.server_address {
            attrs.push(KeyValue::new(SERVER_ADDRESS, addr.clone()));
        }
        if let Some(t) = m.time_to_first_chunk {
            ins.time_to_first_chunk.record(t, &attrs);
        }
        if let Some(t) = m.time_per_output_chunk {
            ins.time_per_output_chunk.record(t, &attrs);
        }
        let u = &m.generation.usage;
        for (kind, tokens) in [("input", u.input_tokens), ("output", u.output_tokens)] {
            if let Some(n) = tokens.and_then(|n| u64::try_from(n).ok()) {
                attrs.push(KeyValue::new(GEN_AI_TOKEN_TYPE, kind));
                ins.token_usage.record(n, &attrs);
                attrs.pop();
            }
        }
        if let Some(e) = m.error_type {
            attrs.push(KeyValue::new(ERROR_TYPE, e.to_owned()));
        }
        ins.duration.record(m.duration, &attrs);
    }
}
