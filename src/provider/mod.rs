//! Provider codecs: one per LLM API, behind one trait.
//!
//! A [`Codec`] recognises its calls by method, path and host, decodes the request body
//! into a provider-neutral [`LlmRequest`], and hands out a [`ResponseDecoder`] that turns
//! the response (a JSON body or a stream of server-sent events) into a [`Generation`].
//! The [`Registry`] holds the built-in codecs, the user's own, and the host → provider
//! name mapping.
//!
//! Everything here is best effort and never fails: a body that is not what the codec
//! expects yields empty fields, never an error or a panic, because the caller's request
//! must pass through untouched whatever it contains.
//!
//! # Built-in codecs
//! | codec | recognises (`POST`) | operation | provider name |
//! |---|---|---|---|
//! | [`OpenAiChat`] | `…/chat/completions` on any host | `chat` | host table, `azure.ai.openai` for `/openai/deployments/…`, else `openai` |
//! | [`OpenAiResponses`] | `…/responses` | `chat` | same |
//! | [`OpenAiCompletions`] | `…/completions` (not chat) | `text_completion` | same |
//! | [`OpenAiEmbeddings`] | `…/embeddings` | `embeddings` | same |
//! | [`AnthropicMessages`] | `…/v1/messages` | `chat` | host table, else `anthropic` |
//! | [`Gemini`] | `…/models/{model}:generateContent` / `:streamGenerateContent` | `generate_content` | `gcp.vertex_ai` on `*aiplatform.googleapis.com`, else `gcp.gemini` |
//! | [`Ollama`] | `…/api/chat`, `…/api/generate`, `…/api/embed` (Ollama's native API, NDJSON streams) | `chat`, `text_completion`, `embeddings` | `ollama` |
//!
//! The host table is [`hosts::BUILTIN_HOSTS`]; [`Registry::add_host`] entries win over
//! it, and [`Registry::add_codec`] puts a user codec before the built-in ones.
//!
//! # Decoding on the hot path
//! Responses are decoded into borrowed, typed structs (`#[serde(borrow)]`, unknown fields
//! skipped without allocating); stream deltas are unescaped straight into the output
//! buffers, and lists keep their first element inline, so an event costs no allocation
//! beyond the buffers' growth (`tests/codec_allocations.rs` counts them). Wrong JSON
//! types, huge numbers and truncated input read as absent; choice indexes are capped at
//! [`MAX_CHOICES`], tool calls and content blocks at [`MAX_ITEMS`].
//!
//! ```
//! use humanloop_tracing::provider::{Codec, LlmRequest, OpenAiChat, Operation};
//!
//! let mut d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
//! d.on_event(None, br#"{"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#);
//! d.on_event(None, br#"{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#);
//! d.on_event(None, b"[DONE]");
//! let g = d.finish();
//! assert_eq!(g.choices[0].joined_text(), "Hello");
//! assert_eq!(g.finish_reasons(), ["stop"]);
//! ```

pub mod anthropic;
mod common;
pub mod gemini;
pub mod hosts;
pub mod ollama;
pub mod openai_chat;
pub mod openai_completions;
pub mod openai_responses;

pub use anthropic::{AnthropicDecoder, AnthropicMessages};
pub use common::{MAX_CHOICES, MAX_ITEMS, MAX_TEXT_BYTES};
pub use gemini::{Gemini, GeminiDecoder};
pub use ollama::{Ollama, OllamaDecoder};
pub use openai_chat::{ChatDecoder, OpenAiChat};
pub use openai_completions::{EmbeddingsDecoder, OpenAiCompletions, OpenAiEmbeddings};
pub use openai_responses::{OpenAiResponses, ResponsesDecoder};

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, Method, Uri};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The GenAI operation a call performs (`gen_ai.operation.name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Chat completion (OpenAI chat, Responses, Anthropic messages, Azure chat).
    Chat,
    /// Legacy text completion (`/v1/completions`).
    TextCompletion,
    /// Gemini `generateContent`.
    GenerateContent,
    /// Embeddings.
    Embeddings,
}

impl Operation {
    /// The semconv value: `chat`, `text_completion`, `generate_content`, `embeddings`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::GenerateContent => "generate_content",
            Operation::Embeddings => "embeddings",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of an outgoing request a codec looks at to recognise it.
#[derive(Clone, Copy, Debug)]
pub struct RequestHead<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Full URI (scheme and authority present for client requests).
    pub uri: &'a Uri,
    /// Request headers (never recorded: they may hold keys).
    pub headers: &'a HeaderMap,
}

/// One part of a message, in the GenAI conventions' parts format; serialises to exactly
/// the JSON `gen_ai.input.messages` / `gen_ai.output.messages` expect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        content: String,
    },
    /// A tool call requested by the model.
    ToolCall {
        /// Call id, when the provider gives one.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Tool name.
        name: String,
        /// Arguments: a JSON value when they parse, else the raw string.
        arguments: Value,
    },
    /// A tool's result sent back to the model.
    ToolCallResponse {
        /// The call it answers.
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The result.
        response: Value,
    },
    /// Reasoning / thinking text.
    Reasoning {
        /// The text.
        content: String,
    },
    /// Inline binary data (base64 content).
    Blob {
        /// MIME type, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// `image`, `audio`, `video`.
        modality: String,
        /// Base64 content.
        content: String,
    },
    /// Data by reference.
    Uri {
        /// The URI.
        uri: String,
        /// `image`, `audio`, `video`.
        modality: String,
    },
}

/// A message in the parts format, provider-neutral.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool` (providers' other roles are mapped onto these).
    pub role: String,
    /// Content parts, in order.
    pub parts: Vec<Part>,
    /// Participant name, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Output messages only: why this choice stopped, in the provider's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

impl Message {
    /// A message with `role` and one text part.
    pub fn text(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            parts: vec![Part::Text {
                content: content.into(),
            }],
            ..Self::default()
        }
    }

    /// All text parts joined, for the log's `output`.
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            if let Part::Text { content } = p {
                out.push_str(content);
            }
        }
        out
    }
}

/// Request parameters (`gen_ai.request.*`; field names follow the attribute names).
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestParams {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<f64>,
    pub max_tokens: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub seed: Option<i64>,
    pub stop_sequences: Vec<String>,
    /// `n` / `candidateCount`; `None` means the provider's default of one.
    pub choice_count: Option<i64>,
    /// `gen_ai.output.type`: `text`, `json`, `image`, `speech`.
    pub output_type: Option<String>,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: Option<bool>,
    /// Embeddings: `encoding_format` and `dimensions` (`gen_ai.request.encoding_formats`,
    /// `gen_ai.embeddings.dimension.count`).
    pub response_format: Option<Value>,
    /// OpenAI `service_tier` (`openai.request.service_tier`).
    pub service_tier: Option<String>,
}

/// A decoded LLM request, provider-neutral.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LlmRequest {
    /// The operation.
    pub operation: Operation,
    /// The requested model (from the body, or the URL for Gemini and Azure deployments).
    pub model: Option<String>,
    /// Whether the caller asked for a stream.
    pub stream: bool,
    /// Sampling parameters.
    pub params: RequestParams,
    /// System instructions (Anthropic `system`, Gemini `systemInstruction`, Responses
    /// `instructions`); OpenAI chat keeps system messages in `messages`.
    pub system: Vec<Part>,
    /// Input messages, in order.
    pub messages: Vec<Message>,
    /// Tool definitions as the provider wrote them.
    pub tools: Vec<Value>,
    /// End-user id, when given.
    pub user: Option<String>,
}

impl LlmRequest {
    /// An empty request for `operation`: what a codec returns for a body it cannot read.
    pub fn empty(operation: Operation) -> Self {
        Self {
            operation,
            model: None,
            stream: false,
            params: RequestParams::default(),
            system: Vec::new(),
            messages: Vec::new(),
            tools: Vec::new(),
            user: None,
        }
    }
}

/// Token usage, normalised: `input_tokens` includes cached tokens, `output_tokens`
/// includes reasoning tokens (as the GenAI conventions define them).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenUsage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_input_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
    pub reasoning_output_tokens: Option<i64>,
}

/// The modalities token counts may be split by, in [`ByModality`]'s order: the values of
/// `gen_ai.token.modality` (besides `unknown`, for a count with no breakdown).
pub const MODALITIES: [&str; 5] = ["text", "image", "audio", "video", "document"];

/// Token counts by modality, indexed like [`MODALITIES`]; all `None` when the provider
/// reports no breakdown (fixed size: decoding it allocates nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByModality(pub [Option<i64>; 5]);

impl ByModality {
    /// Add `n` tokens of `modality` (a provider's name for it, any case; others ignored).
    pub fn add(&mut self, modality: &str, n: i64) {
        if let Some(i) = MODALITIES
            .iter()
            .position(|m| m.eq_ignore_ascii_case(modality))
        {
            let slot = &mut self.0[i];
            *slot = Some(slot.unwrap_or(0).saturating_add(n));
        }
    }

    /// Whether the provider reported a breakdown.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// The usage breakdown by modality where the provider reports one (Gemini's
/// `promptTokensDetails`, `candidatesTokensDetails`, `cacheTokensDetails`); the v0.1 usage
/// counters' `gen_ai.token.modality`.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModalityUsage {
    pub input: ByModality,
    pub output: ByModality,
    pub cache_read: ByModality,
}

/// An error the provider reported (error body or stream `error` event).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// The provider's error code or type (`rate_limit_error`, `invalid_api_key`, …).
    pub code: Option<String>,
    /// The human-readable message.
    pub message: Option<String>,
}

/// The decoded response, provider-neutral.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Generation {
    /// `gen_ai.response.id`.
    pub response_id: Option<String>,
    /// `gen_ai.response.model`.
    pub response_model: Option<String>,
    /// One output message per choice, in choice order, each with its finish reason.
    pub choices: Vec<Message>,
    /// Token usage.
    pub usage: TokenUsage,
    /// [`Generation::usage`] by modality, where the provider splits it.
    pub usage_by_modality: ModalityUsage,
    /// An error reported by the provider in the body or the stream.
    pub error: Option<ProviderError>,
    /// Embeddings: how many vectors came back (the vectors themselves are not kept).
    pub embeddings: Option<usize>,
    /// `openai.response.service_tier`.
    pub service_tier: Option<String>,
    /// `openai.response.system_fingerprint`.
    pub system_fingerprint: Option<String>,
}

impl Generation {
    /// `gen_ai.response.finish_reasons`: one per choice.
    pub fn finish_reasons(&self) -> Vec<&str> {
        self.choices
            .iter()
            .filter_map(|c| c.finish_reason.as_deref())
            .collect()
    }
}

/// Incremental decoder of one call's response. Created per call by
/// [`Codec::response_decoder`]; fed on the caller's path, so it must be cheap: parse
/// only what is needed, borrow where possible, no allocation per event beyond growing
/// the output buffers.
pub trait ResponseDecoder: Send {
    /// One server-sent event: its `event:` name when present, and its `data` (the
    /// `data:` lines joined by `\n`). `[DONE]` and other non-JSON data must be ignored.
    fn on_event(&mut self, event: Option<&str>, data: &[u8]);
    /// A whole non-streaming JSON body (possibly truncated at the capture cap, in which
    /// case decoding may fail and the decoder keeps what it has).
    fn on_body(&mut self, body: &[u8]);
    /// A whole non-streaming JSON body, for the span only: everything [`on_body`]
    /// gives except the output content (the choices' parts may be left empty; their
    /// roles and finish reasons are kept). It runs on the caller's path; when the log
    /// needs the output, a fresh decoder's `on_body` runs on the exporter's thread. The
    /// default decodes everything.
    ///
    /// [`on_body`]: ResponseDecoder::on_body
    fn on_body_head(&mut self, body: &[u8]) {
        self.on_body(body)
    }
    /// What was decoded so far. Called once, at the end of the call (also when the
    /// caller dropped the stream early: partial output must be returned).
    fn finish(&mut self) -> Generation;
    /// Whether the protocol's own end marker arrived (`[DONE]`, `message_stop`,
    /// `response.completed`, …). The call is then finished at once: clients commonly stop
    /// reading at that marker and drop the body before the connection's end, which must
    /// not count as a cancelled call. Default: only the end of the body ends the call.
    fn is_complete(&self) -> bool {
        false
    }
    /// Bytes that appear in a stream only where it ends, starting with the newline that
    /// puts them at the start of a line (no JSON string can hold a raw newline, so no
    /// model output can fake them): `b"\ndata: [DONE]"`, `b"\nevent: message_stop"`.
    /// Where they arrive, and the event holding them is complete, the call is finished
    /// without waiting for the body's end; the stream's events are decoded off the
    /// caller's path. Default: none (the call ends with the body, or, when the caller drops
    /// the body early, as complete if [`is_complete`](Self::is_complete) then holds).
    ///
    /// ```
    /// use humanloop_tracing::provider::{Codec, LlmRequest, OpenAiChat, Operation};
    ///
    /// let d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
    /// assert_eq!(d.end_marker(), Some(&b"\ndata: [DONE]"[..]));
    /// ```
    fn end_marker(&self) -> Option<&'static [u8]> {
        None
    }
    /// Appends to `out` the first choice's output text (its text parts joined) past byte
    /// `offset`, and returns the text's length so far: a relay that forwards a stream's
    /// text as it arrives (the local endpoint's streamed completions) calls it after each
    /// event with the length it returned last. Default: no text (length 0).
    ///
    /// ```
    /// use humanloop_tracing::provider::{Codec, LlmRequest, OpenAiChat, Operation};
    ///
    /// let mut d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
    /// let (mut relayed, mut seen) = (String::new(), 0);
    /// d.on_event(None, br#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#);
    /// seen = d.text_since(seen, &mut relayed);
    /// d.on_event(None, br#"{"choices":[{"index":0,"delta":{"content":"lo"}}]}"#);
    /// seen = d.text_since(seen, &mut relayed);
    /// assert_eq!((relayed.as_str(), seen), ("Hello", 5));
    /// ```
    fn text_since(&self, offset: usize, out: &mut String) -> usize {
        let _ = (offset, out);
        0
    }
}

/// One LLM API: detection, request decoding, response decoding.
///
/// Users can add their own with [`crate::config::ConfigBuilder::codec`].
pub trait Codec: Send + Sync + 'static {
    /// A stable identifier, e.g. `openai.chat`.
    fn id(&self) -> &'static str;
    /// Recognise a request of this API by method, path and host; `None` if it is not one.
    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation>;
    /// The default `gen_ai.provider.name` for a request this codec recognised
    /// (the registry's host mapping may override it).
    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str>;
    /// Decode the request body (best effort: unreadable bodies give [`LlmRequest::empty`]).
    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest;
    /// Decode what the span needs when the call starts: everything
    /// [`decode_request`](Codec::decode_request) gives except the content (`system`,
    /// `messages`, `tools` may be left empty). It runs on the caller's path for every
    /// call, so it should skip the content fields rather than build them; the full
    /// decode runs later on the exporter's thread, or at once when content goes on the
    /// span (`capture_content`). The default decodes everything.
    ///
    /// ```
    /// use humanloop_tracing::provider::{Codec, OpenAiChat, RequestHead};
    /// let (method, uri, headers) = (http::Method::POST, http::Uri::from_static("https://api.openai.com/v1/chat/completions"), http::HeaderMap::new());
    /// let head = RequestHead { method: &method, uri: &uri, headers: &headers };
    /// let body = br#"{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"user","content":"Hi"}]}"#;
    /// let start = OpenAiChat.decode_request_head(&head, body);
    /// assert_eq!(start.model.as_deref(), Some("gpt-4o-mini"));
    /// assert_eq!(start.params.temperature, Some(0.2));
    /// assert!(start.messages.is_empty());
    /// assert_eq!(OpenAiChat.decode_request(&head, body).messages.len(), 1);
    /// ```
    fn decode_request_head(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        self.decode_request(head, body)
    }
    /// A fresh decoder for this call's response.
    fn response_decoder(&self, request: &LlmRequest) -> Box<dyn ResponseDecoder>;
    /// Decode an error body (non-2xx status).
    fn decode_error(&self, body: &[u8]) -> Option<ProviderError>;
}

/// The result of detection: which codec, and what the span needs at start.
#[derive(Clone)]
#[non_exhaustive]
pub struct Detected {
    /// The codec that recognised the call.
    pub codec: Arc<dyn Codec>,
    /// The operation.
    pub operation: Operation,
    /// `gen_ai.provider.name`.
    pub provider: Cow<'static, str>,
    /// `server.address`.
    pub server_address: Option<String>,
    /// `server.port` (explicit, or the scheme's default).
    pub server_port: Option<u16>,
}

impl fmt::Debug for Detected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detected")
            .field("codec", &self.codec.id())
            .field("operation", &self.operation)
            .field("provider", &self.provider)
            .field("server_address", &self.server_address)
            .field("server_port", &self.server_port)
            .finish()
    }
}

/// The codecs in use and the host → provider-name mapping.
#[derive(Clone)]
pub struct Registry {
    codecs: Vec<Arc<dyn Codec>>,
    hosts: Vec<(String, Cow<'static, str>)>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field(
                "codecs",
                &self.codecs.iter().map(|c| c.id()).collect::<Vec<_>>(),
            )
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// The built-in codecs and host mapping.
    pub fn builtin() -> Self {
        Self {
            codecs: builtin_codecs(),
            hosts: Vec::new(),
        }
    }

    /// Put a user codec first, so it wins over the built-in ones.
    pub fn add_codec(&mut self, codec: Arc<dyn Codec>) {
        self.codecs.insert(0, codec);
    }

    /// Name the provider behind `host` (exact host, or a suffix starting with `.`).
    pub fn add_host(&mut self, host: impl Into<String>, provider: impl Into<Cow<'static, str>>) {
        self.hosts.insert(0, (host.into(), provider.into()));
    }

    /// Recognise an LLM call; `None` means: not one, pass it through untouched.
    pub fn detect(&self, head: &RequestHead<'_>) -> Option<Detected> {
        let (codec, operation) = self
            .codecs
            .iter()
            .find_map(|c| c.detect(head).map(|op| (c, op)))?;
        let host = head.uri.host();
        let provider = host
            .and_then(|h| self.user_host_provider(h))
            .unwrap_or_else(|| codec.provider_name(head));
        let server_port = head.uri.port_u16().or(match head.uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        Some(Detected {
            codec: codec.clone(),
            operation,
            provider,
            server_address: host.map(str::to_owned),
            server_port,
        })
    }

    fn user_host_provider(&self, host: &str) -> Option<Cow<'static, str>> {
        self.hosts
            .iter()
            .find(|(h, _)| host_matches(host, h))
            .map(|(_, p)| p.clone())
    }
}

/// `host` equals `pattern`, or `pattern` starts with `.` and `host` ends with it.
pub(crate) fn host_matches(host: &str, pattern: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix('.') {
        let (h, s) = (host.as_bytes(), suffix.as_bytes());
        h.len() > s.len()
            && h[h.len() - s.len()..].eq_ignore_ascii_case(s)
            && h[h.len() - s.len() - 1] == b'.'
    } else {
        host.eq_ignore_ascii_case(pattern)
    }
}

/// The built-in codecs, most specific first.
fn builtin_codecs() -> Vec<Arc<dyn Codec>> {
    vec![
        // Before the OpenAI codecs: `/api/embeddings` ends like their `/embeddings`.
        Arc::new(Ollama),
        Arc::new(OpenAiChat),
        Arc::new(OpenAiResponses),
        Arc::new(OpenAiCompletions),
        Arc::new(OpenAiEmbeddings),
        Arc::new(AnthropicMessages),
        Arc::new(Gemini),
    ]
}

/// The request path (no query).
pub(crate) fn path_of<'h>(head: &RequestHead<'h>) -> &'h str {
    head.uri.path()
}

/// The deployment of an Azure OpenAI path `/openai/deployments/{deployment}/…`.
pub(crate) fn azure_deployment<'h>(head: &RequestHead<'h>) -> Option<&'h str> {
    let rest = path_of(head).strip_prefix("/openai/deployments/")?;
    let dep = rest.split('/').next()?;
    (!dep.is_empty()).then_some(dep)
}

/// Provider name for an OpenAI-shaped API: Azure deployment paths are Azure OpenAI;
/// otherwise the built-in host table, and `openai` for any other host.
pub(crate) fn openai_provider_name(head: &RequestHead<'_>) -> Cow<'static, str> {
    if azure_deployment(head).is_some() {
        return Cow::Borrowed("azure.ai.openai");
    }
    Cow::Borrowed(
        head.uri
            .host()
            .and_then(hosts::provider_for_host)
            .unwrap_or("openai"),
    )
}
