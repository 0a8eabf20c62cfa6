//! Providers the server completes with: `mock` (built in), `openai` (any OpenAI-compatible
//! server), `anthropic` (Messages API). Keys go in headers only, so the provider request
//! body echoed to callers and stored in logs never holds one.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::error::ApiError;
use super::render::{content_text, Rendered};
use crate::api::{
    ChatMessage, FinishReason, ModelConfig, ModelEndpoint, ProviderApiKeys, Role, ToolCall,
};

/// Largest provider error body kept for the error answer.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The HTTP client and default base URLs shared by all calls.
pub(crate) struct Providers {
    http: reqwest::Client,
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
    pub(crate) fn new(
        openai_base_url: Option<String>,
        anthropic_base_url: Option<String>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(300))
            .build()?;
        Ok(Self {
            http,
            openai_base_url,
            anthropic_base_url,
        })
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
            Provider::Mock => Ok(mock_completion(call, sample)),
            Provider::OpenAi { .. } => {
                let resp = self.send(provider, call, body).await?;
                let v: Value = resp
                    .json()
                    .await
                    .map_err(|e| ProviderError::new(format!("unreadable provider answer: {e}")))?;
                Ok(openai_completion(v))
            }
            Provider::Anthropic { .. } => {
                let resp = self.send(provider, call, body).await?;
                let v: Value = resp
                    .json()
                    .await
                    .map_err(|e| ProviderError::new(format!("unreadable provider answer: {e}")))?;
                Ok(anthropic_completion(v))
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
                let done = mock_completion(call, sample);
                let mut events: Vec<Result<Event, ProviderError>> = pieces(&done.raw_output)
                    .into_iter()
                    .map(|p| Ok(Event::Delta(p.to_owned())))
                    .collect();
                events.push(Ok(Event::Done(Completion {
                    raw_output: String::new(),
                    ..done
                })));
                Ok(futures_util::stream::iter(events).boxed())
            }
            Provider::OpenAi { .. } => {
                let resp = self.send(provider, call, body).await?;
                Ok(parse_stream(resp, OpenAiStream::default()))
            }
            Provider::Anthropic { .. } => {
                let resp = self.send(provider, call, body).await?;
                Ok(parse_stream(resp, AnthropicStream::default()))
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
                let path = if openai_chat(&call.config) {
                    "chat/completions"
                } else {
                    "completions"
                };
                let req = self.http.post(format!("{base_url}/{path}"));
                match key {
                    Some(k) => req.bearer_auth(k),
                    None => req,
                }
            }
            Provider::Anthropic { base_url, key } => {
                let req = self
                    .http
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

/// rustls with the ring provider and the platform's verifier, handed to reqwest so the
/// server installs no process-wide crypto provider. Without CA certificates on the machine
/// the server still starts (the local and plain-http providers work); https providers then
/// fail with a certificate error.
fn tls_config() -> rustls::ClientConfig {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3");
    let mut config = match rustls_platform_verifier::Verifier::new(provider) {
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth(),
        Err(e) => {
            tracing::warn!(error = %e, "humanloop-tracing server: no platform TLS verifier; https providers will fail");
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

fn trim(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

fn openai_chat(config: &ModelConfig) -> bool {
    !(config.endpoint == Some(ModelEndpoint::Complete) && config.chat_template.is_none())
}

/// The body sent to the provider (also echoed as `provider_request`).
pub(crate) fn request_body(provider: &Provider, call: &Call, stream: bool) -> Value {
    let c = &call.config;
    match provider {
        Provider::Mock => {
            let mut b = json!({ "model": c.model, "prompt": call.rendered.text() });
            if let Some(m) = c.max_tokens {
                b["max_tokens"] = json!(m);
            }
            if stream {
                b["stream"] = json!(true);
            }
            b
        }
        Provider::OpenAi { .. } => {
            let chat = openai_chat(c);
            let mut b = json!({ "model": c.model });
            if chat {
                b["messages"] = json!(call.rendered.chat());
            } else {
                b["prompt"] = json!(call.rendered.prompt.clone().unwrap_or_default());
            }
            set(&mut b, "max_tokens", c.max_tokens.map(Value::from));
            set(&mut b, "temperature", c.temperature.map(Value::from));
            set(&mut b, "top_p", c.top_p.map(Value::from));
            set(&mut b, "stop", c.stop.as_ref().map(|s| json!(s)));
            set(
                &mut b,
                "presence_penalty",
                c.presence_penalty.map(Value::from),
            );
            set(
                &mut b,
                "frequency_penalty",
                c.frequency_penalty.map(Value::from),
            );
            set(&mut b, "seed", c.seed.or(call.seed).map(Value::from));
            set(&mut b, "response_format", c.response_format.clone());
            set(&mut b, "user", call.user.clone().map(Value::from));
            if chat {
                if let Some(tools) = &c.tools {
                    b["tools"] = Value::Array(tools.iter().filter_map(openai_tool).collect());
                }
                set(&mut b, "tool_choice", call.tool_choice.clone());
                if let Some(n) = call.logprobs {
                    b["logprobs"] = json!(true);
                    b["top_logprobs"] = json!(n);
                }
            } else {
                set(&mut b, "logprobs", call.logprobs.map(Value::from));
                set(&mut b, "suffix", call.suffix.clone().map(Value::from));
            }
            if stream {
                b["stream"] = json!(true);
                b["stream_options"] = json!({ "include_usage": true });
            }
            b
        }
        Provider::Anthropic { .. } => {
            let messages = call.rendered.chat();
            let system: Vec<String> = messages
                .iter()
                .filter(|m| m.role == Role::System)
                .map(|m| content_text(m.content.as_ref()))
                .collect();
            let turns: Vec<Value> = messages
                .iter()
                .filter(|m| m.role != Role::System)
                .map(anthropic_message)
                .collect();
            let mut b = json!({
                "model": c.model,
                "max_tokens": c.max_tokens.unwrap_or(1024),
                "messages": turns,
            });
            if !system.is_empty() {
                b["system"] = json!(system.join("\n"));
            }
            set(&mut b, "temperature", c.temperature.map(Value::from));
            set(&mut b, "top_p", c.top_p.map(Value::from));
            set(
                &mut b,
                "stop_sequences",
                c.stop.as_ref().map(|s| match s {
                    crate::api::Stop::One(one) => json!([one]),
                    crate::api::Stop::Many(many) => json!(many),
                }),
            );
            if let Some(tools) = &c.tools {
                b["tools"] = Value::Array(tools.iter().map(anthropic_tool).collect());
            }
            if let Some(choice) = call.tool_choice.as_ref().and_then(anthropic_tool_choice) {
                b["tool_choice"] = choice;
            }
            if let Some(u) = &call.user {
                b["metadata"] = json!({ "user_id": u });
            }
            if stream {
                b["stream"] = json!(true);
            }
            b
        }
    }
}

fn set(b: &mut Value, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        b[key] = v;
    }
}

/// A tool for OpenAI's Chat Completions: `{type: "function", function: {name,
/// description, parameters, strict}}`. Tools registered in that shape pass unchanged;
/// Humanloop's shape (`{name, description, parameters}`) is wrapped; a tool without a name
/// (a bare link to a stored tool) is left out, as there is nothing to send.
fn openai_tool(tool: &Value) -> Option<Value> {
    if tool.get("function").is_some() {
        return Some(tool.clone());
    }
    let name = tool.get("name").filter(|n| n.is_string())?;
    let mut f = json!({ "name": name });
    for key in ["description", "parameters", "strict"] {
        if let Some(v) = tool.get(key).filter(|v| !v.is_null()) {
            f[key] = v.clone();
        }
    }
    Some(json!({ "type": "function", "function": f }))
}

/// A tool for Anthropic's Messages API: `{name, description, input_schema}`, from OpenAI's
/// shape (`{type: "function", function: {…}}`) or Humanloop's (`{name, description,
/// parameters}`). Tools already in Anthropic's shape pass unchanged.
fn anthropic_tool(tool: &Value) -> Value {
    let f = match tool.get("function") {
        Some(f) => f,
        None if tool.get("input_schema").is_some() => return tool.clone(),
        None => tool,
    };
    let mut t = json!({
        "name": f["name"],
        "input_schema": f.get("parameters").filter(|p| !p.is_null()).cloned().unwrap_or_else(|| json!({"type": "object"})),
    });
    if let Some(d) = f.get("description").filter(|d| !d.is_null()) {
        t["description"] = d.clone();
    }
    t
}

/// Humanloop's `tool_choice` in Anthropic's terms (`none` has no equivalent: no choice).
fn anthropic_tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(s) if s == "auto" => Some(json!({"type": "auto"})),
        Value::String(s) if s == "required" => Some(json!({"type": "any"})),
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))?;
            Some(json!({"type": "tool", "name": name}))
        }
        _ => None,
    }
}

fn anthropic_message(m: &ChatMessage) -> Value {
    let role = if m.role == Role::Assistant {
        "assistant"
    } else {
        "user"
    };
    json!({ "role": role, "content": content_text(m.content.as_ref()) })
}

fn finish(reason: &str) -> FinishReason {
    match reason {
        "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
        "length" | "max_tokens" => FinishReason::Length,
        "tool_calls" | "function_call" | "tool_use" => FinishReason::ToolCall,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn openai_completion(v: Value) -> Completion {
    let choice = &v["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .or_else(|| choice["text"].as_str())
        .unwrap_or_default()
        .to_owned();
    let tool_calls = choice["message"]["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| serde_json::from_value::<ToolCall>(c.clone()).ok())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty());
    Completion {
        raw_output: text,
        finish_reason: choice["finish_reason"].as_str().map(finish),
        tool_calls,
        prompt_tokens: v["usage"]["prompt_tokens"].as_i64(),
        output_tokens: v["usage"]["completion_tokens"].as_i64(),
        raw: v,
    }
}

fn anthropic_completion(v: Value) -> Completion {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in v["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(ToolCall::function(
                block["id"].as_str().unwrap_or_default(),
                block["name"].as_str().unwrap_or_default(),
                block["input"].to_string(),
            )),
            _ => {}
        }
    }
    Completion {
        raw_output: text,
        finish_reason: v["stop_reason"].as_str().map(finish),
        tool_calls: (!calls.is_empty()).then_some(calls),
        prompt_tokens: v["usage"]["input_tokens"].as_i64(),
        output_tokens: v["usage"]["output_tokens"].as_i64(),
        raw: v,
    }
}

/// The mock provider: ` Mock response N to: <prompt words>\n`, one token per word,
/// truncated to `max_tokens` (finish reason `length`). Deterministic.
pub(crate) fn mock_completion(call: &Call, sample: u32) -> Completion {
    let prompt = call.rendered.text();
    let words: Vec<&str> = prompt.split_whitespace().collect();
    let full = format!(" Mock response {sample} to: {}\n", words.join(" "));
    let all = pieces(&full);
    let limit = call
        .config
        .max_tokens
        .filter(|&m| m > 0)
        .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let (text, reason) = if all.len() > limit {
        (all[..limit].concat(), FinishReason::Length)
    } else {
        (full.clone(), FinishReason::Stop)
    };
    let output_tokens = all.len().min(limit) as i64;
    let prompt_tokens = words.len() as i64;
    Completion {
        raw: json!({
            "object": "mock.completion",
            "model": call.config.model,
            "output": text,
            "finish_reason": reason.as_str(),
            "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": output_tokens },
        }),
        raw_output: text,
        finish_reason: Some(reason),
        tool_calls: None,
        prompt_tokens: Some(prompt_tokens),
        output_tokens: Some(output_tokens),
    }
}

/// Split text into word tokens, each with the whitespace that follows it (leading
/// whitespace joins the first token).
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_ws = false;
    let mut seen_word = false;
    for (i, ch) in text.char_indices() {
        let ws = ch.is_whitespace();
        if !ws && prev_ws && seen_word {
            out.push(&text[start..i]);
            start = i;
        }
        seen_word |= !ws;
        prev_ws = ws;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Turns a provider's SSE data payloads into [`Event`]s.
trait StreamParser: Send + 'static {
    /// One data payload; `Some(text)` for a text delta.
    fn feed(&mut self, data: &str) -> Result<Option<String>, ProviderError>;
    /// The provider said the stream is over.
    fn ended(&self) -> bool;
    /// The summary after the last payload; an error when the stream was cut short.
    fn finish(&mut self, clean_end: bool) -> Result<Completion, ProviderError>;
}

fn parse_stream<P: StreamParser>(resp: reqwest::Response, parser: P) -> EventStream {
    let events = Box::pin(resp.bytes_stream().eventsource());
    futures_util::stream::unfold(Some((events, parser)), |state| async move {
        let (mut events, mut parser) = state?;
        loop {
            match events.next().await {
                Some(Ok(ev)) => match parser.feed(&ev.data) {
                    Ok(Some(text)) => {
                        return Some((Ok(Event::Delta(text)), Some((events, parser))))
                    }
                    Ok(None) if parser.ended() => {
                        return Some((parser.finish(true).map(Event::Done), None))
                    }
                    Ok(None) => continue,
                    Err(e) => return Some((Err(e), None)),
                },
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

/// Most tool calls one streamed answer may assemble (indices above are ignored).
const MAX_STREAMED_TOOL_CALLS: usize = 128;

#[derive(Default)]
struct OpenAiStream {
    tool_calls: Vec<ToolCall>,
    finish_reason: Option<FinishReason>,
    prompt_tokens: Option<i64>,
    output_tokens: Option<i64>,
    last: Value,
    done: bool,
}

impl StreamParser for OpenAiStream {
    fn feed(&mut self, data: &str) -> Result<Option<String>, ProviderError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Ok(None); // not JSON: ignore, like every SSE client
        };
        if let Some(err) = v.get("error") {
            return Err(ProviderError {
                message: "the provider reported an error mid-stream".to_owned(),
                status: None,
                body: Some(err.clone()),
            });
        }
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = usage["prompt_tokens"].as_i64();
            self.output_tokens = usage["completion_tokens"].as_i64();
        }
        let choice = &v["choices"][0];
        if let Some(r) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(finish(r));
        }
        // Tool calls arrive in pieces keyed by `index`: the id and name first, then the
        // arguments' JSON text in fragments.
        for tc in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap_or(0) as usize;
            if i >= MAX_STREAMED_TOOL_CALLS {
                continue;
            }
            if self.tool_calls.len() <= i {
                self.tool_calls
                    .resize_with(i + 1, || ToolCall::function("", "", ""));
            }
            let call = &mut self.tool_calls[i];
            if let Some(id) = tc["id"].as_str() {
                call.id = id.to_owned();
            }
            if let Some(name) = tc["function"]["name"].as_str() {
                call.function.name.push_str(name);
            }
            if let Some(args) = tc["function"]["arguments"].as_str() {
                call.function.arguments.push_str(args);
            }
        }
        let text = choice["delta"]["content"]
            .as_str()
            .or_else(|| choice["text"].as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if self.last.is_null()
            || v.get("usage").is_some_and(Value::is_object)
            || self.finish_reason.is_some()
        {
            self.last = v;
        }
        Ok(text)
    }

    fn ended(&self) -> bool {
        self.done
    }

    fn finish(&mut self, clean_end: bool) -> Result<Completion, ProviderError> {
        let finish_reason = match self.finish_reason.take() {
            Some(r) => Some(r),
            // `[DONE]` without a reason: a terse server; the sample did finish.
            None if self.done || clean_end && !self.last.is_null() => Some(FinishReason::Stop),
            None => return Err(ProviderError::new("the provider stream ended early")),
        };
        let calls = std::mem::take(&mut self.tool_calls);
        Ok(Completion {
            raw_output: String::new(),
            finish_reason,
            tool_calls: (!calls.is_empty()).then_some(calls),
            prompt_tokens: self.prompt_tokens,
            output_tokens: self.output_tokens,
            raw: std::mem::take(&mut self.last),
        })
    }
}

#[derive(Default)]
struct AnthropicStream {
    /// `tool_use` blocks by content block index.
    tool_calls: Vec<(u64, ToolCall)>,
    finish_reason: Option<FinishReason>,
    prompt_tokens: Option<i64>,
    output_tokens: Option<i64>,
    message: Value,
    done: bool,
}

impl StreamParser for AnthropicStream {
    fn feed(&mut self, data: &str) -> Result<Option<String>, ProviderError> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Ok(None);
        };
        match v["type"].as_str() {
            Some("message_start") => {
                self.prompt_tokens = v["message"]["usage"]["input_tokens"].as_i64();
                self.message = v["message"].clone();
            }
            Some("content_block_start")
                if v["content_block"]["type"] == "tool_use"
                    && self.tool_calls.len() < MAX_STREAMED_TOOL_CALLS =>
            {
                let block = &v["content_block"];
                self.tool_calls.push((
                    v["index"].as_u64().unwrap_or(0),
                    ToolCall::function(
                        block["id"].as_str().unwrap_or_default(),
                        block["name"].as_str().unwrap_or_default(),
                        "",
                    ),
                ));
            }
            Some("content_block_delta") if v["delta"]["type"] == "text_delta" => {
                return Ok(v["delta"]["text"].as_str().map(str::to_owned));
            }
            Some("content_block_delta") if v["delta"]["type"] == "input_json_delta" => {
                let index = v["index"].as_u64().unwrap_or(0);
                if let Some((_, call)) = self.tool_calls.iter_mut().find(|(i, _)| *i == index) {
                    call.function
                        .arguments
                        .push_str(v["delta"]["partial_json"].as_str().unwrap_or_default());
                }
            }
            Some("message_delta") => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.finish_reason = Some(finish(r));
                    self.message["stop_reason"] = json!(r);
                }
                if let Some(n) = v["usage"]["output_tokens"].as_i64() {
                    self.output_tokens = Some(n);
                    self.message["usage"]["output_tokens"] = json!(n);
                }
            }
            Some("message_stop") => self.done = true,
            Some("error") => {
                return Err(ProviderError {
                    message: "the provider reported an error mid-stream".to_owned(),
                    status: None,
                    body: Some(v["error"].clone()),
                })
            }
            _ => {}
        }
        Ok(None)
    }

    fn ended(&self) -> bool {
        self.done
    }

    fn finish(&mut self, _clean_end: bool) -> Result<Completion, ProviderError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(ProviderError::new("the provider stream ended early"));
        }
        let calls: Vec<ToolCall> = std::mem::take(&mut self.tool_calls)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        Ok(Completion {
            raw_output: String::new(),
            finish_reason: self.finish_reason.take().or(Some(FinishReason::Stop)),
            tool_calls: (!calls.is_empty()).then_some(calls),
            prompt_tokens: self.prompt_tokens,
            output_tokens: self.output_tokens,
            raw: std::mem::take(&mut self.message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_keep_every_byte() {
        let text = " Mock response 0 to: hello  world\n";
        let p = pieces(text);
        assert_eq!(p.concat(), text);
        assert_eq!(
            p,
            vec![" Mock ", "response ", "0 ", "to: ", "hello  ", "world\n"]
        );
    }

    #[test]
    fn mock_respects_max_tokens() {
        let mut config = ModelConfig::new("m");
        config.max_tokens = Some(2);
        let call = Call {
            config,
            rendered: Rendered {
                prompt: Some("a b c".into()),
                messages: None,
            },
            user: None,
            logprobs: None,
            suffix: None,
            seed: None,
            tool_choice: None,
        };
        let c = mock_completion(&call, 0);
        assert_eq!(c.raw_output, " Mock response ");
        assert_eq!(c.finish_reason, Some(FinishReason::Length));
    }
}
