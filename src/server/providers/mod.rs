//! Providers the server completes with: `mock` (built in), `openai` (any OpenAI-compatible
//! server), `anthropic` (Messages API). Keys go in headers only, so the provider request
//! body echoed to callers and stored in logs never holds one.
//!
//! One file per provider ([`openai`], [`anthropic`], [`mock`]) builds its request body;
//! answers and streams are read by the library's codecs ([`decode`]); this file chooses
//! the provider, sends, and relays errors.

mod anthropic;
mod decode;
mod mock;
mod openai;

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::error::ApiError;
use super::render::Rendered;
use crate::api::{FinishReason, ModelConfig, ProviderApiKeys, ToolCall};

/// Largest provider error body kept for the error answer.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The HTTP client and default base URLs shared by all calls.
pub(crate) struct Providers {
    /// Built on the first provider call: its TLS setup loads the platform's certificates,
    /// which most endpoints (the tests', the quickstart's, the mock provider's) never need.
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
    openai_base_url: Option<String>,
    anthropic_base_url: Option<String>,
}

/// One completion to make: the config, its rendered templates and request options.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) config: ModelConfig,
    pub(crate) rendered: Rendered,
    pub(crate) user: Option<String>,
    pub(crate) logprobs: Option<u32>,
    pub(crate) suffix: Option<String>,
    pub(crate) seed: Option<i64>,
    /// The caller's `tool_choice` (Humanloop's: `"auto"`, `"none"`, `"required"` or
    /// `{type: "function", function: {name}}`).
    pub(crate) tool_choice: Option<Value>,
}

/// A finished generation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Completion {
    pub(crate) raw_output: String,
    pub(crate) finish_reason: Option<FinishReason>,
    pub(crate) tool_calls: Option<Vec<ToolCall>>,
    pub(crate) prompt_tokens: Option<i64>,
    pub(crate) output_tokens: Option<i64>,
    /// The provider's response (for a stream: its last event, with usage when given).
    pub(crate) raw: Value,
}

/// What a provider stream yields: text deltas, then one `Done` (whose `raw_output` is
/// empty: the text is the concatenated deltas).
#[derive(Debug)]
pub(crate) enum Event {
    Delta(String),
    Done(Completion),
}

pub(crate) type EventStream = Pin<Box<dyn Stream<Item = Result<Event, ProviderError>> + Send>>;

/// The provider failed or answered something unusable.
#[derive(Debug)]
pub(crate) struct ProviderError {
    message: String,
    status: Option<u16>,
    body: Option<Value>,
}

impl ProviderError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: None,
            body: None,
        }
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = self.status {
            write!(f, " (status {s})")?;
        }
        Ok(())
    }
}

impl From<ProviderError> for ApiError {
    /// A provider's 429 stays a 429 (clients back off and retry); another 4xx means the
    /// request (its key, its parameters) was refused: 400, not retried; anything else
    /// (5xx, unreachable, unreadable) is a 502.
    fn from(e: ProviderError) -> Self {
        use axum::http::StatusCode;
        let status = match e.status {
            Some(429) => StatusCode::TOO_MANY_REQUESTS,
            Some(s) if (400..500).contains(&s) && s != 408 => StatusCode::BAD_REQUEST,
            _ => StatusCode::BAD_GATEWAY,
        };
        ApiError::status(
            status,
            json!({
                "msg": e.message,
                "provider_status": e.status,
                "provider_body": e.body,
            }),
        )
    }
}

/// The provider chosen for one request.
pub(crate) enum Provider {
    Mock,
    OpenAi {
        base_url: String,
        key: Option<String>,
    },
    Anthropic {
        base_url: String,
        key: Option<String>,
    },
}

impl Provider {
    /// The key this request is made with, if any.
    fn key(&self) -> Option<&str> {
        match self {
            Provider::Mock => None,
            Provider::OpenAi { key, .. } | Provider::Anthropic { key, .. } => key.as_deref(),
        }
    }
}

impl Providers {
    pub(crate) fn new(openai_base_url: Option<String>, anthropic_base_url: Option<String>) -> Self {
        Self {
            http: std::sync::OnceLock::new(),
            openai_base_url,
            anthropic_base_url,
        }
    }

    /// The HTTP client for providers, built on first use.
    fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        self.http
            .get_or_init(|| {
                let mut http = reqwest::Client::builder();
                match crate::client::tls_config(crate::client::TlsUse::Optional, &[]) {
                    Ok(tls) => http = http.tls_backend_preconfigured(tls),
                    Err(e) => {
                        tracing::warn!(error = %e, "humanloop-tracing server: no TLS; https providers will fail")
                    }
                }
                http.connect_timeout(Duration::from_secs(10))
                    .read_timeout(Duration::from_secs(300))
                    .build()
                    .map_err(|e| format!("cannot build the provider client: {e}"))
            })
            .as_ref()
            .map_err(|e| ProviderError::new(e.clone()))
    }

    /// The provider `config` names, with its base URL and key.
    pub(crate) fn select(
        &self,
        config: &ModelConfig,
        keys: Option<&ProviderApiKeys>,
    ) -> Result<Provider, ApiError> {
        let from_config = config
            .other
            .as_ref()
            .and_then(|o| o.get("base_url"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match config.provider.as_deref().unwrap_or("openai") {
            "mock" => Ok(Provider::Mock),
            "openai" => Ok(Provider::OpenAi {
                base_url: trim(
                    from_config
                        .or_else(|| self.openai_base_url.clone())
                        .or_else(|| env("OPENAI_BASE_URL"))
                        .unwrap_or_else(|| "https://api.openai.com/v1".to_owned()),
                ),
                key: keys
                    .and_then(|k| k.openai.clone())
                    .or_else(|| env("OPENAI_API_KEY")),
            }),
            "anthropic" => Ok(Provider::Anthropic {
                base_url: trim(
                    from_config
                        .or_else(|| self.anthropic_base_url.clone())
                        .or_else(|| env("ANTHROPIC_BASE_URL"))
                        .unwrap_or_else(|| "https://api.anthropic.com/v1".to_owned()),
                ),
                key: keys
                    .and_then(|k| k.anthropic.clone())
                    .or_else(|| env("ANTHROPIC_API_KEY")),
            }),
            other => Err(ApiError::invalid(
                vec![json!("body"), json!("model_config_id")],
                format!(
                    "provider '{other}' of the model config is not supported by this server (mock, openai, anthropic)"
                ),
                "value_error.provider",
            )),
        }
    }

    /// One complete answer for sample `sample`.
    pub(crate) async fn complete(
        &self,
        provider: &Provider,
        call: &Call,
        body: &Value,
        sample: u32,
    ) -> Result<Completion, ProviderError> {
        match provider {
            Provider::Mock => Ok(mock::mock_completion(call, sample)),
            Provider::OpenAi { .. } | Provider::Anthropic { .. } => {
                let resp = self.send(provider, call, body).await?;
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| ProviderError::new(format!("unreadable provider answer: {e}")))?;
                decode::answer(api(provider, call), &bytes)
            }
        }
    }

    /// A stream of deltas for sample `sample`; fails before the first byte when the
    /// provider refuses the request.
    pub(crate) async fn stream(
        &self,
        provider: &Provider,
        call: &Call,
        body: &Value,
        sample: u32,
    ) -> Result<EventStream, ProviderError> {
        match provider {
            Provider::Mock => {
                let done = mock::mock_completion(call, sample);
                let mut events: Vec<Result<Event, ProviderError>> = mock::pieces(&done.raw_output)
                    .into_iter()
                    .map(|p| Ok(Event::Delta(p.to_owned())))
                    .collect();
                events.push(Ok(Event::Done(Completion {
                    raw_output: String::new(),
                    ..done
                })));
                Ok(futures_util::stream::iter(events).boxed())
            }
            Provider::OpenAi { .. } | Provider::Anthropic { .. } => {
                let resp = self.send(provider, call, body).await?;
                Ok(parse_stream(
                    resp,
                    decode::StreamReader::new(api(provider, call)),
                ))
            }
        }
    }

    async fn send(
        &self,
        provider: &Provider,
        call: &Call,
        body: &Value,
    ) -> Result<reqwest::Response, ProviderError> {
        let req = match provider {
            Provider::Mock => return Err(ProviderError::new("the mock provider sends nothing")),
            Provider::OpenAi { base_url, key } => {
                let path = if openai::chat(&call.config) {
                    "chat/completions"
                } else {
                    "completions"
                };
                let req = self.http()?.post(format!("{base_url}/{path}"));
                match key {
                    Some(k) => req.bearer_auth(k),
                    None => req,
                }
            }
            Provider::Anthropic { base_url, key } => {
                let req = self
                    .http()?
                    .post(format!("{base_url}/messages"))
                    .header("anthropic-version", "2023-06-01");
                match key {
                    Some(k) => req.header("x-api-key", k),
                    None => req,
                }
            }
        };
        let resp = req
            .json(body)
            .send()
            .await
            .map_err(|e| ProviderError::new(format!("cannot reach the provider: {e}")))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let bytes = &bytes[..bytes.len().min(MAX_ERROR_BODY)];
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        // The body is relayed to the caller: a provider that echoes the key it refused
        // ("Incorrect API key provided: sk-…") must not make the endpoint echo it.
        if let Some(key) = provider.key().filter(|k| !k.is_empty()) {
            text = text.replace(key, "[REDACTED]");
        }
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Err(ProviderError {
            message: "the provider refused the request".to_owned(),
            status: Some(status),
            body: Some(body),
        })
    }
}

fn trim(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

/// The body sent to the provider (also echoed as `provider_request`).
pub(crate) fn request_body(provider: &Provider, call: &Call, stream: bool) -> Value {
    match provider {
        Provider::Mock => mock::request_body(call, stream),
        Provider::OpenAi { .. } => openai::request_body(call, stream),
        Provider::Anthropic { .. } => anthropic::request_body(call, stream),
    }
}

pub(super) fn set(b: &mut Value, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        b[key] = v;
    }
}

pub(super) fn finish(reason: &str) -> FinishReason {
    match reason {
        "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
        "length" | "max_tokens" => FinishReason::Length,
        "tool_calls" | "function_call" | "tool_use" => FinishReason::ToolCall,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The API whose answer `provider` gives for `call`.
fn api(provider: &Provider, call: &Call) -> decode::Api {
    match provider {
        Provider::Anthropic { .. } => decode::Api::Anthropic,
        _ if openai::chat(&call.config) => decode::Api::OpenAiChat,
        _ => decode::Api::OpenAiCompletions,
    }
}

fn parse_stream(resp: reqwest::Response, parser: decode::StreamReader) -> EventStream {
    let events = Box::pin(resp.bytes_stream().eventsource());
    futures_util::stream::unfold(Some((events, parser)), |state| async move {
        let (mut events, mut parser) = state?;
        loop {
            match events.next().await {
                Some(Ok(ev)) => {
                    if let Some(text) = parser.feed(&ev.event, &ev.data) {
                        return Some((Ok(Event::Delta(text)), Some((events, parser))));
                    }
                    if parser.ended() {
                        return Some((parser.finish(true).map(Event::Done), None));
                    }
                }
                Some(Err(e)) => {
                    return Some((
                        Err(ProviderError::new(format!(
                            "the provider stream broke: {e}"
                        ))),
                        None,
                    ))
                }
                None => return Some((parser.finish(false).map(Event::Done), None)),
            }
        }
    })
    .boxed()
}
