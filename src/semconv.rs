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

/// `gen_ai.usage.cache_write.input_tokens` (int): the v0.1 name of
/// [`GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS`].
pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
/// `gen_ai.prompt.name`: the prompt (for a `completion-model-config` call, the model
/// config) that produced the request.
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
/// `gen_ai.prompt.version`: the version of [`GEN_AI_PROMPT_NAME`].
pub const GEN_AI_PROMPT_VERSION: &str = "gen_ai.prompt.version";
/// `gen_ai.tool.name`, on `execute_tool` spans.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.tool.type`, on `execute_tool` spans: `function`.
pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
/// `gen_ai.tool.call.arguments`: a tool step's inputs as a JSON object (opt-in content).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `gen_ai.tool.call.result`: a tool step's output (opt-in content).
pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// `gen_ai.tool.definitions`: the tools offered to the model, a JSON array (opt-in content).
pub const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
/// `gen_ai.agent.name`, on `invoke_agent` spans.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// `input.value`: the OpenInference input preview Phoenix and MLflow show in their trace
/// lists (opt-in content, on session, agent and step spans).
pub const INPUT_VALUE: &str = "input.value";
/// `output.value`: the OpenInference output preview (opt-in content).
pub const OUTPUT_VALUE: &str = "output.value";
/// `gen_ai.request.encoding_formats` (string array): embeddings' `encoding_format`.
pub const GEN_AI_REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";
/// `gen_ai.embeddings.dimension.count` (int): the requested `dimensions`.
pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
/// `openai.api.type`: `chat_completions` or `responses`.
pub const OPENAI_API_TYPE: &str = "openai.api.type";
/// `openai.request.service_tier`.
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
/// `openai.response.service_tier`.
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// `openai.response.system_fingerprint`.
pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";
/// `gen_ai.token.modality` on the v0.1 usage counters: required on every point.
pub const GEN_AI_TOKEN_MODALITY: &str = "gen_ai.token.modality";
/// The [`GEN_AI_TOKEN_MODALITY`] of tokens the provider did not split by modality (the
/// conventions' value for "no breakdown"; guessing `text` would invent data). Gemini
/// reports a breakdown (`promptTokensDetails`, `candidatesTokensDetails`,
/// `cacheTokensDetails`: its input, output and cached tokens go by modality, the rest,
/// e.g. its thinking tokens, as `unknown`); every other provider's counts are `unknown`
/// (OpenAI's `audio_tokens` details name one modality but not the rest).
pub const TOKEN_MODALITY_UNKNOWN: &str = "unknown";

/// `gen_ai.operation.name` of a tool step.
pub const OP_EXECUTE_TOOL: &str = "execute_tool";
/// `gen_ai.operation.name` of an agent step.
pub const OP_INVOKE_AGENT: &str = "invoke_agent";
/// The finish reason the v0.1 profile requires for a generation cut off early.
pub const FINISH_REASON_ERROR: &str = "error";

/// Metric `gen_ai.client.inference.duration` (s, histogram): v0.1 name of
/// [`METRIC_OPERATION_DURATION`].
pub const METRIC_INFERENCE_DURATION: &str = "gen_ai.client.inference.duration";
/// Metric `gen_ai.client.inference.time_to_first_chunk` (s, histogram; v0.1).
pub const METRIC_INFERENCE_TIME_TO_FIRST_CHUNK: &str =
    "gen_ai.client.inference.time_to_first_chunk";
/// Metric `gen_ai.client.inference.time_per_output_chunk` (s, histogram; v0.1).
pub const METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK: &str =
    "gen_ai.client.inference.time_per_output_chunk";
/// Metric `gen_ai.client.inference.usage.input_tokens` (`{token}`, counter; v0.1).
pub const METRIC_USAGE_INPUT_TOKENS: &str = "gen_ai.client.inference.usage.input_tokens";
/// Metric `gen_ai.client.inference.usage.output_tokens` (`{token}`, counter; v0.1).
pub const METRIC_USAGE_OUTPUT_TOKENS: &str = "gen_ai.client.inference.usage.output_tokens";
/// Metric `gen_ai.client.inference.usage.cache_read.input_tokens` (`{token}`, counter; v0.1).
pub const METRIC_USAGE_CACHE_READ_INPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.cache_read.input_tokens";
/// Metric `gen_ai.client.inference.usage.cache_write.input_tokens` (`{token}`, counter; v0.1).
pub const METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.cache_write.input_tokens";
/// Metric `gen_ai.client.inference.usage.reasoning.output_tokens` (`{token}`, counter; v0.1).
pub const METRIC_USAGE_REASONING_OUTPUT_TOKENS: &str =
    "gen_ai.client.inference.usage.reasoning.output_tokens";

/// The environment variable the OpenTelemetry instrumentations read to opt in to newer
/// conventions: a comma-separated list.
pub const OPT_IN_ENV: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// The value of [`OPT_IN_ENV`] that selects [`Profile::GenAiV0_1`].
pub const OPT_IN_GEN_AI_LATEST: &str = "gen_ai_latest_experimental";

/// Which release of the GenAI conventions the crate emits (defined beside the rest of
/// the configuration, as [`config::SemconvProfile`](crate::config::SemconvProfile)).
///
/// Select it with [`ConfigBuilder::semconv_profile`](crate::ConfigBuilder::semconv_profile)
/// or, in [`Config::from_env`](crate::Config::from_env),
/// `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`. [`TABLE`] lists every name
/// under both.
///
/// ```
/// use humanloop_tracing::semconv::{Profile, METRIC_INFERENCE_DURATION};
/// assert_eq!(Profile::from_opt_in("http,gen_ai_latest_experimental"), Profile::GenAiV0_1);
/// assert_eq!(Profile::from_opt_in(""), Profile::V1_41);
/// assert_eq!(Profile::GenAiV0_1.metric_duration(), METRIC_INFERENCE_DURATION);
/// ```
pub use crate::config::SemconvProfile as Profile;

impl Profile {
    /// The profile `OTEL_SEMCONV_STABILITY_OPT_IN` selects (default [`Profile::V1_41`]).
    pub fn from_env() -> Profile {
        std::env::var(OPT_IN_ENV)
            .map(|v| Profile::from_opt_in(&v))
            .unwrap_or_default()
    }

    /// The release this profile follows: `1.41.0` or `genai-0.1.0`.
    pub fn version(self) -> &'static str {
        match self {
            Profile::V1_41 => "1.41.0",
            Profile::GenAiV0_1 => "genai-0.1.0",
        }
    }

    /// The name of `name` under this profile; `None` when this profile does not have it.
    pub fn name(self, name: &Name) -> Option<&'static str> {
        match self {
            Profile::V1_41 => name.v1_41,
            Profile::GenAiV0_1 => name.v0_1,
        }
    }

    /// The cache-write usage attribute (`…cache_creation…` or `…cache_write…`).
    pub fn cache_write_input_tokens(self) -> &'static str {
        self.name(&names::USAGE_CACHE_WRITE).unwrap_or_default()
    }

    /// The duration metric's name.
    pub fn metric_duration(self) -> &'static str {
        self.name(&names::METRIC_DURATION).unwrap_or_default()
    }

    /// The time-to-first-chunk metric's name.
    pub fn metric_time_to_first_chunk(self) -> &'static str {
        self.name(&names::METRIC_TIME_TO_FIRST_CHUNK)
            .unwrap_or_default()
    }

    /// The time-per-output-chunk metric's name.
    pub fn metric_time_per_output_chunk(self) -> &'static str {
        self.name(&names::METRIC_TIME_PER_OUTPUT_CHUNK)
            .unwrap_or_default()
    }

    /// Whether a session key the crate derived (from the trace id) may be recorded as
    /// `gen_ai.conversation.id`: v1.41 yes, v0.1 forbids synthesizing it.
    pub fn records_derived_conversation_id(self) -> bool {
        matches!(self, Profile::V1_41)
    }

    /// The finish reasons of a generation cut off early (cancelled, body error): v0.1
    /// requires `["error"]`; v1.41 records what arrived.
    pub fn cut_off_finish_reasons(self) -> Option<&'static [&'static str]> {
        match self {
            Profile::V1_41 => None,
            Profile::GenAiV0_1 => Some(&[FINISH_REASON_ERROR]),
        }
    }
}

/// What a [`Name`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A span attribute.
    Attribute,
    /// A metric instrument.
    Metric,
    /// An attribute of metric data points.
    MetricAttribute,
}

/// One row of [`TABLE`]: what the crate records, named per profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name {
    /// Attribute or metric.
    pub kind: Kind,
    /// The v1.41 name (`None`: not emitted under v1.41).
    pub v1_41: Option<&'static str>,
    /// The v0.1 name (`None`: not emitted under v0.1).
    pub v0_1: Option<&'static str>,
    /// The spans (or instruments) that carry it: `inference` (middleware calls),
    /// `completion` (`completion-model-config` calls), `tool`, `agent` (agents and steps),
    /// `session`, `metrics`.
    pub on: &'static str,
    /// When it is recorded.
    pub when: &'static str,
}

impl Name {
    const fn both(kind: Kind, name: &'static str, on: &'static str, when: &'static str) -> Name {
        Name {
            kind,
            v1_41: Some(name),
            v0_1: Some(name),
            on,
            when,
        }
    }
}

/// The rows of [`TABLE`] that code refers to by name.
pub mod names {
    use super::*;

    /// Cache-write input tokens: renamed in v0.1.
    pub const USAGE_CACHE_WRITE: Name = Name {
        kind: Kind::Attribute,
        v1_41: Some(GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        v0_1: Some(GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
        on: "inference",
        when: "reported by the provider",
    };
    /// The duration histogram: renamed in v0.1.
    pub const METRIC_DURATION: Name = Name {
        kind: Kind::Metric,
        v1_41: Some(METRIC_OPERATION_DURATION),
        v0_1: Some(METRIC_INFERENCE_DURATION),
        on: "metrics",
        when: "every call (histogram, s; `error.type` on failure)",
    };
    /// Time to first chunk: renamed in v0.1.
    pub const METRIC_TIME_TO_FIRST_CHUNK: Name = Name {
        kind: Kind::Metric,
        v1_41: Some(super::METRIC_TIME_TO_FIRST_CHUNK),
        v0_1: Some(METRIC_INFERENCE_TIME_TO_FIRST_CHUNK),
        on: "metrics",
        when: "streaming calls (histogram, s)",
    };
    /// Time per output chunk: renamed in v0.1.
    pub const METRIC_TIME_PER_OUTPUT_CHUNK: Name = Name {
        kind: Kind::Metric,
        v1_41: Some(super::METRIC_TIME_PER_OUTPUT_CHUNK),
        v0_1: Some(METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK),
        on: "metrics",
        when: "streaming calls with more than one chunk (histogram, s)",
    };
    /// The token usage histogram: v1.41 only.
    pub const METRIC_TOKEN_USAGE: Name = Name {
        kind: Kind::Metric,
        v1_41: Some(super::METRIC_TOKEN_USAGE),
        v0_1: None,
        on: "metrics",
        when: "usage reported (histogram, {token}, by `gen_ai.token.type`)",
    };
    /// The usage counters: v0.1 only.
    pub const METRIC_USAGE_COUNTERS: [Name; 5] = {
        const fn counter(name: &'static str) -> Name {
            Name {
                kind: Kind::Metric,
                v1_41: None,
                v0_1: Some(name),
                on: "metrics",
                when: "usage reported (counter, {token})",
            }
        }
        [
            counter(METRIC_USAGE_INPUT_TOKENS),
            counter(METRIC_USAGE_OUTPUT_TOKENS),
            counter(METRIC_USAGE_CACHE_READ_INPUT_TOKENS),
            counter(METRIC_USAGE_CACHE_WRITE_INPUT_TOKENS),
            counter(METRIC_USAGE_REASONING_OUTPUT_TOKENS),
        ]
    };
}

/// Every attribute and metric the crate records, with its name under each [`Profile`].
/// The README's conventions table is this table; `tests/semconv_*` check that what is
/// emitted under each profile is exactly what it lists.
pub const TABLE: &[Name] = {
    use Kind::{Attribute as A, MetricAttribute as MA};
    const LLM: &str = "inference, completion";
    &[
        Name::both(A, GEN_AI_OPERATION_NAME, "every span", "at start"),
        Name::both(A, GEN_AI_PROVIDER_NAME, LLM, "at start"),
        Name::both(
            A,
            GEN_AI_REQUEST_MODEL,
            LLM,
            "at start (completion: at the end, the model the endpoint asked the provider for)",
        ),
        Name::both(A, SERVER_ADDRESS, LLM, "at start"),
        Name::both(A, SERVER_PORT, LLM, "at start"),
        Name::both(A, GEN_AI_REQUEST_TEMPERATURE, "inference", "when set"),
        Name::both(A, GEN_AI_REQUEST_TOP_P, "inference", "when set"),
        Name::both(
            A,
            GEN_AI_REQUEST_TOP_K,
            "inference",
            "when set: double in v1.41, int in v0.1 (`otel`)",
        ),
        Name::both(A, GEN_AI_REQUEST_MAX_TOKENS, "inference", "when set"),
        Name::both(A, GEN_AI_REQUEST_FREQUENCY_PENALTY, "inference", "when set"),
        Name::both(A, GEN_AI_REQUEST_PRESENCE_PENALTY, "inference", "when set"),
        Name::both(A, GEN_AI_REQUEST_SEED, "inference", "when set"),
        Name::both(
            A,
            GEN_AI_REQUEST_STOP_SEQUENCES,
            "inference",
            "when set (`otel`)",
        ),
        Name::both(A, GEN_AI_REQUEST_CHOICE_COUNT, LLM, "when not 1"),
        Name::both(A, GEN_AI_REQUEST_STREAM, LLM, "when true"),
        Name::both(
            A,
            GEN_AI_REQUEST_ENCODING_FORMATS,
            "inference",
            "embeddings with `encoding_format` (`otel`)",
        ),
        Name::both(
            A,
            GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
            "inference",
            "embeddings with `dimensions` (`otel`)",
        ),
        Name::both(
            A,
            GEN_AI_OUTPUT_TYPE,
            "inference",
            "when the request asks for one",
        ),
        Name {
            kind: A,
            v1_41: Some(GEN_AI_CONVERSATION_ID),
            v0_1: Some(GEN_AI_CONVERSATION_ID),
            on: "inference, completion, session",
            when: "inside a session; v0.1: only a named session (never one derived from the trace)",
        },
        Name::both(
            A,
            GEN_AI_PROMPT_NAME,
            "completion",
            "the model config id (`otel`)",
        ),
        Name::both(
            A,
            GEN_AI_PROMPT_VERSION,
            "completion",
            "the model config's version, when the endpoint reports one (`otel`)",
        ),
        Name::both(A, GEN_AI_RESPONSE_ID, LLM, "at the end"),
        Name::both(A, GEN_AI_RESPONSE_MODEL, LLM, "at the end"),
        Name {
            kind: A,
            v1_41: Some(GEN_AI_RESPONSE_FINISH_REASONS),
            v0_1: Some(GEN_AI_RESPONSE_FINISH_REASONS),
            on: LLM,
            when: "at the end; a generation cut off early: v1.41 what arrived, v0.1 `[\"error\"]`",
        },
        Name::both(A, GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, LLM, "streaming"),
        Name::both(
            A,
            GEN_AI_USAGE_INPUT_TOKENS,
            LLM,
            "reported by the provider",
        ),
        Name::both(
            A,
            GEN_AI_USAGE_OUTPUT_TOKENS,
            LLM,
            "reported by the provider",
        ),
        Name::both(
            A,
            GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            "inference",
            "reported by the provider",
        ),
        names::USAGE_CACHE_WRITE,
        Name::both(
            A,
            GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            "inference",
            "reported by the provider",
        ),
        Name::both(
            A,
            OPENAI_API_TYPE,
            "inference",
            "OpenAI chat and Responses calls (`otel`)",
        ),
        Name::both(
            A,
            OPENAI_REQUEST_SERVICE_TIER,
            "inference",
            "OpenAI, when requested (`otel`)",
        ),
        Name::both(
            A,
            OPENAI_RESPONSE_SERVICE_TIER,
            "inference",
            "OpenAI, when reported (`otel`)",
        ),
        Name::both(
            A,
            OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
            "inference",
            "OpenAI, when reported (`otel`)",
        ),
        Name::both(A, ERROR_TYPE, "every span", "on failure, with status error"),
        Name::both(
            A,
            GEN_AI_INPUT_MESSAGES,
            "inference, completion, agent, session",
            "capture on",
        ),
        Name::both(
            A,
            GEN_AI_OUTPUT_MESSAGES,
            "inference, completion, agent, session",
            "capture on",
        ),
        Name::both(A, GEN_AI_SYSTEM_INSTRUCTIONS, "inference", "capture on"),
        Name::both(
            A,
            GEN_AI_TOOL_DEFINITIONS,
            "inference",
            "capture on, tools offered (`otel`)",
        ),
        Name::both(A, GEN_AI_TOOL_NAME, "tool", "at start"),
        Name::both(A, GEN_AI_TOOL_TYPE, "tool", "at start"),
        Name::both(
            A,
            GEN_AI_TOOL_CALL_ARGUMENTS,
            "tool",
            "capture on, inputs recorded",
        ),
        Name::both(
            A,
            GEN_AI_TOOL_CALL_RESULT,
            "tool",
            "capture on, output recorded",
        ),
        Name::both(
            A,
            GEN_AI_AGENT_NAME,
            "agent, session",
            "at start (`session` on sessions)",
        ),
        Name::both(
            A,
            INPUT_VALUE,
            "agent, session",
            "capture on, inputs recorded (OpenInference preview)",
        ),
        Name::both(
            A,
            OUTPUT_VALUE,
            "agent, session",
            "capture on, output recorded (OpenInference preview)",
        ),
        Name::both(
            A,
            HUMANLOOP_OUTPUT_TRUNCATED,
            "inference",
            "response over the capture cap (`otel`)",
        ),
        names::METRIC_DURATION,
        names::METRIC_TIME_TO_FIRST_CHUNK,
        names::METRIC_TIME_PER_OUTPUT_CHUNK,
        names::METRIC_TOKEN_USAGE,
        names::METRIC_USAGE_COUNTERS[0],
        names::METRIC_USAGE_COUNTERS[1],
        names::METRIC_USAGE_COUNTERS[2],
        names::METRIC_USAGE_COUNTERS[3],
        names::METRIC_USAGE_COUNTERS[4],
        Name::both(MA, GEN_AI_OPERATION_NAME, "metrics", "every data point"),
        Name::both(MA, GEN_AI_PROVIDER_NAME, "metrics", "every data point"),
        Name::both(MA, GEN_AI_REQUEST_MODEL, "metrics", "when known"),
        Name::both(MA, GEN_AI_RESPONSE_MODEL, "metrics", "when known"),
        Name::both(MA, SERVER_ADDRESS, "metrics", "when known"),
        Name::both(MA, SERVER_PORT, "metrics", "with `server.address`"),
        Name::both(MA, ERROR_TYPE, "metrics", "duration of a failed call"),
        Name {
            kind: MA,
            v1_41: Some(GEN_AI_TOKEN_TYPE),
            v0_1: None,
            on: "metrics",
            when: "token usage histogram: `input` / `output`",
        },
        Name {
            kind: MA,
            v1_41: None,
            v0_1: Some(GEN_AI_TOKEN_MODALITY),
            on: "metrics",
            when: "usage counters: the provider's breakdown (Gemini), else `unknown`",
        },
    ]
};

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
/// Agent, tool, session and step spans declare an operation too (`invoke_agent`,
/// `execute_tool`) but are no inference: they declare an agent or tool name, or are ours.
fn in_inference_span() -> bool {
    Span::current().metadata().is_some_and(|m| {
        let f = m.fields();
        f.field(GEN_AI_OPERATION_NAME).is_some()
            && [
                "gen_ai.agent.name",
                "gen_ai.tool.name",
                "humanloop.step",
                "humanloop.session",
            ]
            .iter()
            .all(|name| f.field(name).is_none())
    })
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
pub(crate) fn inference_span(detected: &Detected, request: &LlmRequest, profile: Profile) -> Span {
    use tracing::field::Empty;
    if in_inference_span() {
        return nested_span(detected, request);
    }
    let p = &request.params;
    // v0.1 made top_k an int: set below through the OTel span.
    let top_k_double = p.top_k.filter(|_| profile == Profile::V1_41);
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
        gen_ai.request.top_k = top_k_double,
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
    if !span.is_disabled() {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        if let Some(api) = openai_api_type(detected) {
            span.set_attribute(OPENAI_API_TYPE, api);
        }
        record_request_extras(&span, request, profile);
    }
    span
}

/// A value for a `record_all` value set: `None` records nothing.
fn some<T: tracing::field::Value>(v: &Option<T>) -> Option<&dyn tracing::field::Value> {
    v.as_ref().map(|v| v as &dyn tracing::field::Value)
}

/// The start attributes [`inference_span`] takes from the request, for a span opened
/// before its request was decoded (it is decoded when the call is completed): its name
/// and the request attributes, recorded now.
pub(crate) fn record_request(span: &Span, request: &LlmRequest, profile: Profile) {
    if span.is_disabled() {
        return;
    }
    let nested = is_nested(span);
    let name = if nested {
        format!("{} (http)", span_name(request))
    } else {
        span_name(request)
    };
    if nested {
        span.record("otel.name", name.as_str());
    } else {
        record_request_fields(span, &name, request, profile);
    }
    #[cfg(feature = "otel")]
    {
        // A span whose context was taken (to inject `traceparent`) is already started: its
        // name is set on the OpenTelemetry span itself.
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        span.context().span().update_name(name);
        if !nested {
            record_request_extras(span, request, profile);
        }
    }
}

/// [`record_request`]'s name and declared attributes, in one `record_all`.
fn record_request_fields(span: &Span, name: &str, request: &LlmRequest, profile: Profile) {
    // The name and the request attributes in one `record_all` (each `record` is a round
    // through every layer; twelve of them cost 7 k instructions a call). The span was
    // opened by `inference_span`, which declares them all.
    let Some(fields) = span.metadata().map(|m| m.fields()) else {
        return;
    };
    let field = |name: &str| fields.field(name);
    let (
        Some(otel_name),
        Some(f_model),
        Some(f_temperature),
        Some(f_top_p),
        Some(f_top_k),
        Some(f_max_tokens),
        Some(f_frequency),
        Some(f_presence),
        Some(f_seed),
        Some(f_choices),
        Some(f_stream),
        Some(f_output_type),
    ) = (
        field("otel.name"),
        field(GEN_AI_REQUEST_MODEL),
        field(GEN_AI_REQUEST_TEMPERATURE),
        field(GEN_AI_REQUEST_TOP_P),
        field(GEN_AI_REQUEST_TOP_K),
        field(GEN_AI_REQUEST_MAX_TOKENS),
        field(GEN_AI_REQUEST_FREQUENCY_PENALTY),
        field(GEN_AI_REQUEST_PRESENCE_PENALTY),
        field(GEN_AI_REQUEST_SEED),
        field(GEN_AI_REQUEST_CHOICE_COUNT),
        field(GEN_AI_REQUEST_STREAM),
        field(GEN_AI_OUTPUT_TYPE),
    )
    else {
        debug_assert!(false, "inference_span declares every request attribute");
        return;
    };
    let p = &request.params;
    let top_k_double = p.top_k.filter(|_| profile == Profile::V1_41);
    let (name, model) = (Some(name), request.model.as_deref());
    let (choices, stream) = (choice_count(request), request.stream.then_some(true));
    let output_type = p.output_type.as_deref();
    span.record_all(&fields.value_set(&[
        (&otel_name, some(&name)),
        (&f_model, some(&model)),
        (&f_temperature, some(&p.temperature)),
        (&f_top_p, some(&p.top_p)),
        (&f_top_k, some(&top_k_double)),
        (&f_max_tokens, some(&p.max_tokens)),
        (&f_frequency, some(&p.frequency_penalty)),
        (&f_presence, some(&p.presence_penalty)),
        (&f_seed, some(&p.seed)),
        (&f_choices, some(&choices)),
        (&f_stream, some(&stream)),
        (&f_output_type, some(&output_type)),
    ]));
}

/// The start attributes a `tracing` span cannot declare (it holds at most 32 fields) or
/// that are arrays: set through the OpenTelemetry span.
#[cfg(feature = "otel")]
fn record_request_extras(span: &Span, request: &LlmRequest, profile: Profile) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let p = &request.params;
    if !p.stop_sequences.is_empty() {
        set_string_array(span, GEN_AI_REQUEST_STOP_SEQUENCES, &p.stop_sequences);
    }
    if profile == Profile::GenAiV0_1 {
        if let Some(k) = p.top_k {
            span.set_attribute(GEN_AI_REQUEST_TOP_K, k.round() as i64);
        }
    }
    if let Some(tier) = &p.service_tier {
        span.set_attribute(OPENAI_REQUEST_SERVICE_TIER, tier.clone());
    }
    if let Some(format) = p
        .response_format
        .as_ref()
        .filter(|_| request.operation == crate::provider::Operation::Embeddings)
    {
        if let Some(enc) = format.get("encoding_format").and_then(|v| v.as_str()) {
            set_string_array(span, GEN_AI_REQUEST_ENCODING_FORMATS, &[enc]);
        }
        if let Some(dim) = format.get("dimensions").and_then(|v| v.as_i64()) {
            span.set_attribute(GEN_AI_EMBEDDINGS_DIMENSION_COUNT, dim);
        }
    }
}

/// `openai.api.type` for the OpenAI codecs: `chat_completions` or `responses`.
#[cfg(feature = "otel")]
fn openai_api_type(detected: &Detected) -> Option<&'static str> {
    if detected.provider != "openai" && detected.provider != "azure.ai.openai" {
        return None;
    }
    match detected.codec.id() {
        "openai.chat" => Some("chat_completions"),
        "openai.responses" => Some("responses"),
        _ => None,
    }
}

/// Record `gen_ai.tool.definitions` (opt-in content, `otel` feature; the content switch
/// is the caller's to check): the tools offered, cleaned by `clean`, one JSON array of at
/// most `max` bytes.
pub(crate) fn record_tool_definitions(
    span: &Span,
    tools: &[serde_json::Value],
    clean: &dyn Fn(&mut String),
    max: usize,
) {
    #[cfg(feature = "otel")]
    if !tools.is_empty() && !span.is_disabled() {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let mut tools = serde_json::Value::Array(tools.to_vec());
        clean_value(&mut tools, clean);
        span.set_attribute(GEN_AI_TOOL_DEFINITIONS, json_within(&tools, max));
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, tools, clean, max);
}

/// Run `clean` on every string inside `value`.
pub(crate) fn clean_value(value: &mut serde_json::Value, clean: &dyn Fn(&mut String)) {
    use serde_json::Value;
    match value {
        Value::String(s) => clean(s),
        Value::Array(items) => items.iter_mut().for_each(|v| clean_value(v, clean)),
        Value::Object(map) => map.values_mut().for_each(|v| clean_value(v, clean)),
        _ => {}
    }
}

/// `value` as JSON of at most `max` bytes: long strings are cut (on a character boundary,
/// marked `…`) until it fits, so that the JSON stays valid.
pub(crate) fn json_within(value: &serde_json::Value, max: usize) -> String {
    let json = value.to_string();
    if json.len() <= max {
        return json;
    }
    let mut value = value.clone();
    let mut limit = max / 2;
    loop {
        cut_strings(&mut value, limit);
        let json = value.to_string();
        if json.len() <= max || limit == 0 {
            return if json.len() <= max {
                json
            } else {
                "[]".to_owned()
            };
        }
        limit /= 2;
    }
}

fn cut_strings(value: &mut serde_json::Value, limit: usize) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.len() > limit => {
            let mut end = limit;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cut_strings(v, limit)),
        Value::Object(map) => map.values_mut().for_each(|v| cut_strings(v, limit)),
        _ => {}
    }
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

/// Record `gen_ai.conversation.id` from the span tree's session: a named session under
/// both profiles, one derived from the trace only under v1.41 (v0.1 forbids synthesizing it).
/// `named`: the span tree named the session (a session span, baggage), rather than the
/// crate deriving it from the trace.
pub(crate) fn record_conversation_id(
    span: &Span,
    session: Option<&str>,
    named: bool,
    profile: Profile,
) {
    if let Some(session) = session {
        if named || profile.records_derived_conversation_id() {
            span.record(GEN_AI_CONVERSATION_ID, session);
        }
    }
}

/// The preview text of a step's inputs: a lone string input as it is, otherwise the
/// inputs as a JSON object; cleaned by the redaction hook.
fn inputs_text(inputs: &crate::api::JsonMap, config: &crate::Config) -> String {
    let mut value = match inputs.values().next() {
        Some(serde_json::Value::String(s)) if inputs.len() == 1 => {
            serde_json::Value::String(s.clone())
        }
        _ => serde_json::Value::Object(inputs.clone()),
    };
    clean_value(&mut value, &|s| {
        config.redact_text(s);
    });
    match value {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut_text(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// One message of `role` with one text part, as a content attribute.
fn text_message(role: &str, text: &str, finish_reason: Option<&str>, max: usize) -> String {
    let mut message = serde_json::json!({
        "role": role,
        "parts": [{"type": "text", "content": text}],
    });
    if let Some(reason) = finish_reason {
        message["finish_reason"] = reason.into();
    }
    json_within(&serde_json::Value::Array(vec![message]), max)
}

/// A step's inputs as span attributes (content capture on; the caller checks): a tool's
/// `gen_ai.tool.call.arguments`, an agent's or session's `gen_ai.input.messages` and
/// `input.value`, for the fields `fields` declares.
fn step_input_attributes(
    fields: &tracing::field::FieldSet,
    inputs: &crate::api::JsonMap,
    config: &crate::Config,
) -> Vec<(&'static str, String)> {
    let max = config.content.max_content_attribute_bytes;
    let mut out = Vec::new();
    if fields.field(GEN_AI_TOOL_CALL_ARGUMENTS).is_some() {
        let mut args = serde_json::Value::Object(inputs.clone());
        clean_value(&mut args, &|s| {
            config.redact_text(s);
        });
        out.push((GEN_AI_TOOL_CALL_ARGUMENTS, json_within(&args, max)));
    }
    if fields.field(GEN_AI_INPUT_MESSAGES).is_some() {
        let text = cut_text(inputs_text(inputs, config), max / 2);
        out.push((
            GEN_AI_INPUT_MESSAGES,
            text_message("user", &text, None, max),
        ));
        out.push((INPUT_VALUE, text));
    }
    out
}

/// Record a step's (or session's) inputs on span `id`, once, when they are final: at its
/// first enter, when its log is made too. (A `tracing` span records a field once per
/// `record`, and OpenTelemetry keeps every value: recording at each `record_input` would
/// repeat the attribute.)
pub(crate) fn record_step_inputs(
    dispatch: &tracing::Dispatch,
    id: &tracing::span::Id,
    metadata: &'static tracing::Metadata<'static>,
    inputs: &crate::api::JsonMap,
    config: &crate::Config,
) {
    let fields = metadata.fields();
    for (key, value) in step_input_attributes(fields, inputs, config) {
        if let Some(field) = fields.field(key) {
            let value: &dyn tracing::Value = &value.as_str();
            let values = [(&field, Some(value))];
            let set = fields.value_set(&values);
            dispatch.record(id, &tracing::span::Record::new(&set));
        }
    }
}

/// A step's output on its span (content capture on; the caller checks): a tool's
/// `gen_ai.tool.call.result`, an agent's or session's `gen_ai.output.messages` and
/// `output.value`.
pub(crate) fn record_step_output(span: &Span, output: &str, config: &crate::Config) {
    let max = config.content.max_content_attribute_bytes;
    let mut text = output.to_owned();
    config.redact_text(&mut text);
    let text = cut_text(text, max / 2);
    if span.has_field(GEN_AI_TOOL_CALL_RESULT) {
        span.record(GEN_AI_TOOL_CALL_RESULT, text.as_str());
    }
    if span.has_field(GEN_AI_OUTPUT_MESSAGES) {
        let json = text_message("assistant", &text, Some("stop"), max);
        span.record(GEN_AI_OUTPUT_MESSAGES, json.as_str());
        span.record(OUTPUT_VALUE, text.as_str());
    }
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
    /// The generation was cut off early (the caller let go, or the body failed).
    pub cut_off: bool,
    /// The conventions to follow.
    pub profile: Profile,
}

/// Record the finish reasons, a string array with `otel` (a JSON string without).
pub(crate) fn record_finish_reasons(span: &Span, reasons: &[&str]) {
    if reasons.is_empty() {
        return;
    }
    #[cfg(feature = "otel")]
    set_string_array(span, GEN_AI_RESPONSE_FINISH_REASONS, reasons);
    #[cfg(not(feature = "otel"))]
    if let Ok(json) = serde_json::to_string(&reasons) {
        span.record(GEN_AI_RESPONSE_FINISH_REASONS, json.as_str());
    }
}

/// Record a token count under `key`: a declared span field, or (a name the span could
/// not declare: v0.1's cache-write name) through the OpenTelemetry span.
fn record_count(span: &Span, key: &'static str, value: i64) {
    if span.has_field(key) {
        span.record(key, value);
    } else {
        #[cfg(feature = "otel")]
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            span.set_attribute(key, value);
        }
    }
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
    match outcome
        .profile
        .cut_off_finish_reasons()
        .filter(|_| outcome.cut_off)
    {
        Some(reasons) => record_finish_reasons(span, reasons),
        None => record_finish_reasons(span, &g.finish_reasons()),
    }
    let u = &g.usage;
    let cache_write = outcome.profile.cache_write_input_tokens();
    // The declared fields in one `record_all` (each `record` is a round through every
    // layer); a name the span could not declare goes through OpenTelemetry.
    let recorded = span.metadata().is_some_and(|meta| {
        let fields = meta.fields();
        let (
            Some(id),
            Some(model),
            Some(ttfc),
            Some(input),
            Some(output),
            Some(cache_read),
            Some(cache_creation),
            Some(reasoning),
            Some(error),
            Some(status),
        ) = (
            fields.field(GEN_AI_RESPONSE_ID),
            fields.field(GEN_AI_RESPONSE_MODEL),
            fields.field(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
            fields.field(GEN_AI_USAGE_INPUT_TOKENS),
            fields.field(GEN_AI_USAGE_OUTPUT_TOKENS),
            fields.field(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            fields.field(cache_write),
            fields.field(GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
            fields.field(ERROR_TYPE),
            fields.field(OTEL_STATUS_CODE),
        )
        else {
            return false;
        };
        let response_id = g.response_id.as_deref();
        let response_model = g.response_model.as_deref();
        let status_code = outcome.error_type.map(|_| "ERROR");
        span.record_all(&fields.value_set(&[
            (&id, some(&response_id)),
            (&model, some(&response_model)),
            (&ttfc, some(&outcome.time_to_first_chunk)),
            (&input, some(&u.input_tokens)),
            (&output, some(&u.output_tokens)),
            (&cache_read, some(&u.cache_read_input_tokens)),
            (&cache_creation, some(&u.cache_creation_input_tokens)),
            (&reasoning, some(&u.reasoning_output_tokens)),
            (&error, some(&outcome.error_type)),
            (&status, some(&status_code)),
        ]));
        true
    });
    if !recorded {
        if let Some(id) = &g.response_id {
            span.record(GEN_AI_RESPONSE_ID, id.as_str());
        }
        if let Some(model) = &g.response_model {
            span.record(GEN_AI_RESPONSE_MODEL, model.as_str());
        }
        if let Some(t) = outcome.time_to_first_chunk {
            span.record(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, t);
        }
        for (key, value) in [
            (GEN_AI_USAGE_INPUT_TOKENS, u.input_tokens),
            (GEN_AI_USAGE_OUTPUT_TOKENS, u.output_tokens),
            (
                GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                u.cache_read_input_tokens,
            ),
            (cache_write, u.cache_creation_input_tokens),
            (
                GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                u.reasoning_output_tokens,
            ),
        ] {
            if let Some(v) = value {
                record_count(span, key, v);
            }
        }
    }
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        if outcome.truncated {
            span.set_attribute(HUMANLOOP_OUTPUT_TRUNCATED, true);
        }
        if let Some(tier) = &g.service_tier {
            span.set_attribute(OPENAI_RESPONSE_SERVICE_TIER, tier.clone());
        }
        if let Some(fp) = &g.system_fingerprint {
            span.set_attribute(OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fp.clone());
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = outcome.truncated;
    if let (false, Some(error_type)) = (recorded, outcome.error_type) {
        record_error_type(span, error_type);
    }
}

/// Status error with `error.type` on any span the crate made.
pub(crate) fn record_error_type(span: &Span, error_type: &str) {
    span.record(ERROR_TYPE, error_type);
    span.record(OTEL_STATUS_CODE, "ERROR");
}

/// The GenAI client metrics (with the `otel` feature; no-ops without it).
#[cfg(feature = "otel")]
pub(crate) mod metrics {
    use std::sync::OnceLock;

    use opentelemetry::metrics::{Counter, Histogram, Meter};
    use opentelemetry::KeyValue;

    use super::*;
    use crate::provider::{ByModality, MODALITIES};

    /// v1.41: one histogram by `gen_ai.token.type`; v0.1: one counter per kind of token.
    enum Tokens {
        Histogram(Histogram<u64>),
        Counters([Counter<u64>; 5]),
    }

    struct Instruments {
        tokens: Tokens,
        duration: Histogram<f64>,
        time_to_first_chunk: Histogram<f64>,
        time_per_output_chunk: Histogram<f64>,
    }

    fn seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
        meter
            .f64_histogram(name)
            .with_unit("s")
            .with_description(description)
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build()
    }

    fn build(profile: Profile) -> Instruments {
        let meter = opentelemetry::global::meter("humanloop_tracing");
        let tokens = match profile {
            Profile::V1_41 => Tokens::Histogram(
                meter
                    .u64_histogram(METRIC_TOKEN_USAGE)
                    .with_unit("{token}")
                    .with_description("Number of input and output tokens used")
                    .with_boundaries(TOKEN_USAGE_BUCKETS.to_vec())
                    .build(),
            ),
            Profile::GenAiV0_1 => Tokens::Counters(names::METRIC_USAGE_COUNTERS.map(|n| {
                meter
                    .u64_counter(n.v0_1.unwrap_or_default())
                    .with_unit("{token}")
                    .with_description("Tokens used by GenAI inference")
                    .build()
            })),
        };
        Instruments {
            tokens,
            duration: seconds(
                &meter,
                profile.metric_duration(),
                "GenAI operation duration",
            ),
            time_to_first_chunk: seconds(
                &meter,
                profile.metric_time_to_first_chunk(),
                "Time to receive the first chunk of a streaming response",
            ),
            time_per_output_chunk: seconds(
                &meter,
                profile.metric_time_per_output_chunk(),
                "Time between consecutive chunks of a streaming response",
            ),
        }
    }

    fn instruments(profile: Profile) -> &'static Instruments {
        static V1_41: OnceLock<Instruments> = OnceLock::new();
        static V0_1: OnceLock<Instruments> = OnceLock::new();
        match profile {
            Profile::V1_41 => V1_41.get_or_init(|| build(profile)),
            Profile::GenAiV0_1 => V0_1.get_or_init(|| build(profile)),
        }
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
        pub profile: Profile,
    }

    /// Add `total` tokens to counter `c`, one point per modality the provider reported
    /// (`gen_ai.token.modality` is required on every point) and the rest, or all of it
    /// when there is no breakdown, as `unknown`: the points always sum to the total.
    fn add_by_modality(
        c: &Counter<u64>,
        total: u64,
        by: Option<&ByModality>,
        attrs: &mut Vec<KeyValue>,
    ) {
        let mut rest = total;
        for (modality, n) in MODALITIES.iter().zip(by.map_or([None; 5], |b| b.0)) {
            let n = n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0).min(rest);
            if n > 0 {
                rest -= n;
                attrs.push(KeyValue::new(GEN_AI_TOKEN_MODALITY, *modality));
                c.add(n, attrs);
                attrs.pop();
            }
        }
        if rest > 0 || rest == total {
            attrs.push(KeyValue::new(GEN_AI_TOKEN_MODALITY, TOKEN_MODALITY_UNKNOWN));
            c.add(rest, attrs);
            attrs.pop();
        }
    }

    /// Record one finished call.
    pub(crate) fn record(m: &CallMetrics<'_>) {
        let ins = instruments(m.profile);
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
            if let Some(port) = m.detected.server_port {
                attrs.push(KeyValue::new(SERVER_PORT, i64::from(port)));
            }
        }
        if let Some(t) = m.time_to_first_chunk {
            ins.time_to_first_chunk.record(t, &attrs);
        }
        if let Some(t) = m.time_per_output_chunk {
            ins.time_per_output_chunk.record(t, &attrs);
        }
        let u = &m.generation.usage;
        let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
        match &ins.tokens {
            Tokens::Histogram(h) => {
                for (kind, tokens) in [("input", u.input_tokens), ("output", u.output_tokens)] {
                    if let Some(n) = count(tokens) {
                        attrs.push(KeyValue::new(GEN_AI_TOKEN_TYPE, kind));
                        h.record(n, &attrs);
                        attrs.pop();
                    }
                }
            }
            Tokens::Counters(counters) => {
                let by = &m.generation.usage_by_modality;
                let values = [
                    (u.input_tokens, Some(&by.input)),
                    (u.output_tokens, Some(&by.output)),
                    (u.cache_read_input_tokens, Some(&by.cache_read)),
                    (u.cache_creation_input_tokens, None),
                    (u.reasoning_output_tokens, None),
                ];
                for (c, (total, by)) in counters.iter().zip(values) {
                    if let Some(total) = count(total) {
                        add_by_modality(c, total, by, &mut attrs);
                    }
                }
            }
        }
        if let Some(e) = m.error_type {
            attrs.push(KeyValue::new(ERROR_TYPE, e.to_owned()));
        }
        ins.duration.record(m.duration, &attrs);
    }
}

/// The `completion-model-config` span: a GenAI client span like the middleware's, whose
/// model, messages and outputs come from the endpoint's answer (the client knows only the
/// model config id before it). Only the reqwest client (feature `transport`) makes them.
#[cfg(feature = "transport")]
pub(crate) mod completion {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};
    use tracing::field::Empty;
    use tracing::Span;

    use super::*;
    use crate::api::{CompletionModelConfigRequest, CompletionResponse};
    use crate::Config;

    /// The provider name of these spans: the endpoint calls the provider.
    pub(crate) const PROVIDER: &str = "humanloop";

    /// Open the span of one completion call. Named `chat {model_config_id}` until the
    /// answer names the model (then `chat {model}`).
    pub(crate) fn span(base: &url::Url, req: &CompletionModelConfigRequest) -> Span {
        tracing::info_span!(
            target: "humanloop_tracing",
            "gen_ai",
            otel.name = format!("chat {}", req.model_config_id),
            otel.kind = "client",
            otel.status_code = Empty,
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = PROVIDER,
            gen_ai.request.model = Empty,
            gen_ai.prompt.name = req.model_config_id.as_str(),
            gen_ai.prompt.version = Empty,
            server.address = base.host_str(),
            server.port = base.port_or_known_default().map(i64::from),
            gen_ai.request.choice.count = req.num_samples.filter(|n| *n != 1).map(i64::from),
            gen_ai.request.stream = req.stream.filter(|s| *s),
            gen_ai.conversation.id = Empty,
            gen_ai.response.id = Empty,
            gen_ai.response.model = Empty,
            gen_ai.response.finish_reasons = Empty,
            gen_ai.response.time_to_first_chunk = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
            error.type = Empty,
            gen_ai.input.messages = Empty,
            gen_ai.output.messages = Empty,
        )
    }

    /// `gen_ai.conversation.id` of a completion call: the session it names, or the span
    /// tree's (derived keys only under v1.41).
    pub(crate) fn record_session(
        span: &Span,
        explicit: Option<&str>,
        tree: (Option<&str>, bool),
        profile: Profile,
    ) {
        match explicit {
            Some(session) => {
                span.record(GEN_AI_CONVERSATION_ID, session);
            }
            None => record_conversation_id(span, tree.0, tree.1, profile),
        }
    }

    fn str_at<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
        v?.get(key)?.as_str().filter(|s| !s.is_empty())
    }

    /// Rename the span (tracing-opentelemetry ignores `otel.name` recorded after the
    /// OpenTelemetry span started, which it has by the time the answer arrives).
    fn rename(span: &Span, name: String) {
        #[cfg(feature = "otel")]
        {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            if !span.is_disabled() {
                span.context().span().update_name(name);
            }
        }
        #[cfg(not(feature = "otel"))]
        span.record("otel.name", name.as_str());
    }

    /// Which of the models (request, response) and the version are on the span.
    type Recorded = [bool; 3];

    /// The model, version and input messages the answer reveals: from `provider_request`
    /// (the rendered template) and the first provider response. Each is recorded once
    /// (`done`): OpenTelemetry keeps every value recorded, and stream chunks repeat them.
    fn record_models(span: &Span, resp: &CompletionResponse, done: &mut Recorded) {
        let request = resp.provider_request.as_ref().map(|m| m.get("model"));
        if let Some(model) = request
            .flatten()
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && !done[0])
        {
            span.record(GEN_AI_REQUEST_MODEL, model);
            rename(span, format!("chat {model}"));
            done[0] = true;
        }
        if let Some(model) = str_at(resp.provider_responses.first(), "model").filter(|_| !done[1]) {
            span.record(GEN_AI_RESPONSE_MODEL, model);
            done[1] = true;
        }
        let version = resp
            .data
            .iter()
            .find_map(|d| d.extra.get("model_config_version").and_then(Value::as_str));
        if let Some(v) = version.filter(|_| !done[2]) {
            span.record(GEN_AI_PROMPT_VERSION, v);
            done[2] = true;
        }
    }

    /// The rendered template as input messages in the parts format (chat `messages`, or a
    /// completion `prompt` as one user message).
    fn input_messages(resp: &CompletionResponse) -> Option<Value> {
        let request = resp.provider_request.as_ref()?;
        if let Some(Value::Array(messages)) = request.get("messages") {
            let list = messages
                .iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                    let content = match m.get("content") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    json!({"role": role, "parts": [{"type": "text", "content": content}]})
                })
                .collect();
            return Some(Value::Array(list));
        }
        let prompt = request.get("prompt")?.as_str()?;
        Some(json!([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]))
    }

    fn output_messages(outputs: &BTreeMap<u32, (String, Option<String>)>) -> Value {
        Value::Array(
            outputs
                .values()
                .map(|(text, reason)| {
                    json!({
                        "role": "assistant",
                        "parts": [{"type": "text", "content": text}],
                        "finish_reason": reason.as_deref().unwrap_or("stop"),
                    })
                })
                .collect(),
        )
    }

    fn record_content(span: &Span, key: &'static str, mut value: Value, config: &Config) {
        clean_value(&mut value, &|s| {
            config.redact_text(s);
        });
        let json = json_within(&value, config.content.max_content_attribute_bytes);
        span.record(key, json.as_str());
    }

    /// Record a whole answer on the span. `config` is the handle's (none for a bare
    /// client: no content, v1.41).
    pub(crate) fn record_response(span: &Span, resp: &CompletionResponse, config: Option<&Config>) {
        if let Some(id) = resp.data.first().and_then(|d| d.id.as_deref()) {
            span.record(GEN_AI_RESPONSE_ID, id);
        }
        record_models(span, resp, &mut Recorded::default());
        if let Some(usage) = &resp.usage {
            record_usage(span, usage.prompt_tokens, usage.generation_tokens);
        }
        let mut outputs = BTreeMap::new();
        for item in &resp.data {
            let text = item.output.clone().unwrap_or_default();
            let reason = item.finish_reason.as_ref().map(|r| r.as_str().to_owned());
            outputs.insert(item.index, (text, reason));
        }
        let reasons: Vec<&str> = outputs.values().filter_map(|(_, r)| r.as_deref()).collect();
        record_finish_reasons(span, &reasons);
        if let Some(config) = config.filter(|c| c.capture_content()) {
            if let Some(input) = input_messages(resp) {
                record_content(span, GEN_AI_INPUT_MESSAGES, input, config);
            }
            record_content(
                span,
                GEN_AI_OUTPUT_MESSAGES,
                output_messages(&outputs),
                config,
            );
        }
    }

    fn record_usage(span: &Span, input: Option<i64>, output: Option<i64>) {
        if let Some(n) = input {
            span.record(GEN_AI_USAGE_INPUT_TOKENS, n);
        }
        if let Some(n) = output {
            span.record(GEN_AI_USAGE_OUTPUT_TOKENS, n);
        }
    }

    /// `error.type` of a failed call: the HTTP status or `_OTHER`.
    pub(crate) fn record_error(span: &Span, e: &crate::Error) {
        let kind = e
            .status()
            .map(|s| s.as_u16().to_string())
            .unwrap_or_else(|| ERROR_OTHER.to_owned());
        record_error_type(span, &kind);
    }

    /// A streamed completion's span, fed chunk by chunk and finished exactly once.
    #[derive(Debug)]
    pub(crate) struct StreamRecorder {
        span: Span,
        capture: Option<Config>,
        profile: Profile,
        first_chunk: bool,
        /// Per sample: its text so far (kept only with capture on, up to the attribute
        /// cap) and its finish reason.
        outputs: BTreeMap<u32, (String, Option<String>)>,
        input: Option<Value>,
        /// What of the models is on the span already.
        models: Recorded,
        /// The latest usage (input, output tokens), recorded once when the stream ends.
        usage: (Option<i64>, Option<i64>),
        finished: bool,
    }

    impl StreamRecorder {
        pub(crate) fn new(span: Span, config: Option<&Config>) -> Self {
            StreamRecorder {
                span,
                capture: config.filter(|c| c.capture_content()).cloned(),
                profile: config.map(Config::semconv_profile).unwrap_or_default(),
                first_chunk: false,
                outputs: BTreeMap::new(),
                input: None,
                models: Recorded::default(),
                usage: (None, None),
                finished: false,
            }
        }

        pub(crate) fn on_chunk(&mut self, chunk: &CompletionResponse, since_start: f64) {
            if !self.first_chunk {
                self.first_chunk = true;
                self.span
                    .record(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, since_start);
                if let Some(id) = chunk.data.first().and_then(|d| d.id.as_deref()) {
                    self.span.record(GEN_AI_RESPONSE_ID, id);
                }
            }
            if chunk.provider_request.is_some() || !chunk.provider_responses.is_empty() {
                record_models(&self.span, chunk, &mut self.models);
                if self.capture.is_some() && self.input.is_none() {
                    self.input = input_messages(chunk);
                }
            }
            if let Some(usage) = &chunk.usage {
                self.usage.0 = usage.prompt_tokens.or(self.usage.0);
                self.usage.1 = usage.generation_tokens.or(self.usage.1);
            }
            let cap = self
                .capture
                .as_ref()
                .map_or(0, |c| c.content.max_content_attribute_bytes);
            for item in &chunk.data {
                let entry = self.outputs.entry(item.index).or_default();
                if let Some(text) = item.output.as_deref() {
                    if entry.0.len() + text.len() <= cap {
                        entry.0.push_str(text);
                    }
                }
                if let Some(r) = &item.finish_reason {
                    entry.1 = Some(r.as_str().to_owned());
                }
            }
        }

        /// Finish: at the end of the stream (`cut_off` false), or cut off by an error or
        /// the caller dropping it (`error_type`).
        pub(crate) fn finish(&mut self, error_type: Option<&str>, cut_off: bool) {
            if std::mem::replace(&mut self.finished, true) {
                return;
            }
            record_usage(&self.span, self.usage.0, self.usage.1);
            match self.profile.cut_off_finish_reasons().filter(|_| cut_off) {
                Some(reasons) => record_finish_reasons(&self.span, reasons),
                None => {
                    let reasons: Vec<&str> = self
                        .outputs
                        .values()
                        .filter_map(|(_, r)| r.as_deref())
                        .collect();
                    record_finish_reasons(&self.span, &reasons);
                }
            }
            if let Some(config) = &self.capture {
                if let Some(input) = self.input.take() {
                    record_content(&self.span, GEN_AI_INPUT_MESSAGES, input, config);
                }
                if !self.outputs.is_empty() {
                    let out = output_messages(&self.outputs);
                    record_content(&self.span, GEN_AI_OUTPUT_MESSAGES, out, config);
                }
            }
            if let Some(e) = error_type {
                record_error_type(&self.span, e);
            }
            // tracing-opentelemetry ends a span at its last exit: enter once more so the
            // span ends now, when the stream does.
            drop(self.span.enter());
        }
    }
}
