//! From a finished call to its [`LogRequest`], and the content attributes of its span.
//!
//! [`build`] runs on the exporter's thread (the call hands over a deferred record), so
//! JSON parsing, redaction and conversion never cost the caller anything.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde_json::Value;

use super::outcome::{self, End, Timing};
use super::Secrets;
use crate::api::{
    ChatMessage, ContentPart, ImageUrl, JsonMap, LogConfig, LogRequest, MessageContent,
    ModelConfig, ModelEndpoint, Role, Stop, ToolCall,
};
use crate::config::Config;
use crate::hierarchy::CallContext;
use crate::hooks::contain;
use crate::pricing;
use crate::provider::{
    Codec, Detected, Generation, LlmRequest, Message, Operation, Part, RequestHead,
};
use crate::redact::{self, for_each_string as value_texts};
use crate::semconv::{self, CallOutcome};

/// A finished call, as one plain record: what its span's outcome, its metrics and its
/// log are made from. [`Finished::settle`] works out the outcome (on the caller's path
/// when the span or the metrics need it there); [`complete`] does whatever is left and
/// builds the log, wherever it runs.
pub(crate) struct Finished {
    pub detected: Detected,
    pub request: LlmRequest,
    pub deferred: Option<DeferredRequest>,
    pub request_body: Option<Bytes>,
    pub response_body: Option<Vec<u8>>,
    /// `response_body` goes into the log (`provider_response`); otherwise it is only here
    /// to be decoded.
    pub response_body_logged: bool,
    /// `response_body` was not decoded (or only its head, `on_body_head`): decode it with
    /// this codec when the log is built.
    pub deferred_output: Option<Arc<dyn Codec>>,
    pub generation: Generation,
    pub status: Option<http::StatusCode>,
    pub end: End,
    pub timing: Timing,
    /// The log's `error` once the outcome is settled; `None` before.
    pub error: Option<Option<String>>,
    pub created_at: SystemTime,
    pub ctx: CallContext,
    pub secrets: Secrets,
    pub truncated: bool,
}

impl Finished {
    /// Settle the outcome: `error.type`, the metrics, the log's `error` text, and, when
    /// `span` is given, the response attributes on it (with the output messages when its
    /// `bool` says content goes on the span).
    pub(crate) fn settle(&mut self, config: &Config, span: Option<(&tracing::Span, bool)>) {
        let error_type = outcome::error_type(self.status, self.end, &self.generation);
        let error_type = error_type.as_deref();
        if let Some((span, content)) = span {
            semconv::record_outcome(
                span,
                &CallOutcome {
                    generation: &self.generation,
                    time_to_first_chunk: self.timing.time_to_first_chunk,
                    error_type,
                    truncated: self.truncated,
                    cut_off: matches!(self.end, End::Cancelled | End::BodyError),
                    profile: config.semconv_profile(),
                },
            );
            if content && !self.generation.choices.is_empty() {
                let secrets = &self.secrets;
                let clean = |s: &mut String| clean(config, secrets, s);
                let json = content_json(
                    Content::Messages(&self.generation.choices),
                    &clean,
                    config.content().max_content_attribute_bytes,
                );
                span.record(semconv::GEN_AI_OUTPUT_MESSAGES, json.as_str());
            }
        }
        self.timing.record_metrics(
            config.semconv_profile(),
            &self.detected,
            &self.request,
            &self.generation,
            error_type,
        );
        self.error = Some(
            error_type.map(|t| outcome::error_message(t, &self.generation, self.status, self.end)),
        );
    }

    /// Decode what was left for later: the rest of the request, the response body.
    fn decode_rest(&mut self) {
        if let Some(deferred) = self.deferred.take() {
            // Scanned here, not when the call finished: nothing recorded before needs them
            // (a span with content decoded the request, and scanned it, at the start).
            self.secrets.add_from_body(&deferred.body);
            deferred.complete(&mut self.request);
        }
        if let (Some(codec), Some(body)) = (self.deferred_output.take(), &self.response_body) {
            let request = &self.request;
            let full = contain("codec", || {
                let mut decoder = codec.response_decoder(request);
                decoder.on_body(body);
                decoder.finish()
            });
            match full {
                // Nothing was decoded on the caller's path.
                Some(full) if self.error.is_none() => self.generation = full,
                // A body the full decode cannot read keeps what its head gave.
                Some(full) if !full.choices.is_empty() => self.generation.choices = full.choices,
                _ => {}
            }
        }
    }
}

/// A request whose head alone (or nothing) was decoded on the caller's path: the rest
/// (messages, system instructions, tools) is decoded when the log is built.
pub(crate) struct DeferredRequest {
    pub codec: Arc<dyn Codec>,
    pub method: http::Method,
    pub uri: http::Uri,
    pub body: Bytes,
    /// Nothing was decoded: the full decode replaces the request.
    pub whole: bool,
}

impl DeferredRequest {
    /// Fill `request` from the full decode (a panicking codec leaves it as it is).
    fn complete(self, request: &mut LlmRequest) {
        let headers = http::HeaderMap::new();
        let head = RequestHead {
            method: &self.method,
            uri: &self.uri,
            headers: &headers,
        };
        let Some(full) = contain("codec", || self.codec.decode_request(&head, &self.body)) else {
            return;
        };
        if self.whole {
            *request = full;
        } else {
            request.system = full.system;
            request.messages = full.messages;
            request.tools = full.tools;
        }
    }
}

/// Scrub the request's secrets from `s`, then run the user's redaction hook. A
/// panicking hook leaves `s` empty.
pub(crate) fn clean(config: &Config, secrets: &Secrets, s: &mut String) {
    secrets.scrub(s);
    config.redact_text(s);
}

/// A list to record as a content attribute.
#[derive(Clone, Copy)]
pub(crate) enum Content<'a> {
    /// `gen_ai.input.messages`, `gen_ai.output.messages`.
    Messages(&'a [Message]),
    /// `gen_ai.system_instructions`.
    Parts(&'a [Part]),
}

enum OwnedContent {
    Messages(Vec<Message>),
    Parts(Vec<Part>),
}

impl OwnedContent {
    fn to_json(&self) -> String {
        match self {
            OwnedContent::Messages(m) => serde_json::to_string(m),
            OwnedContent::Parts(p) => serde_json::to_string(p),
        }
        .unwrap_or_else(|_| "[]".to_owned())
    }

    fn for_each_text(&mut self, f: &mut dyn FnMut(&mut String)) {
        match self {
            OwnedContent::Messages(ms) => ms
                .iter_mut()
                .for_each(|m| m.parts.iter_mut().for_each(|p| part_texts(p, f))),
            OwnedContent::Parts(ps) => ps.iter_mut().for_each(|p| part_texts(p, f)),
        }
    }
}

/// Visit the strings of a part that carry content. JSON values (tool arguments and
/// results) are turned into their string form first, so that they can be redacted and
/// truncated like text.
fn part_texts(part: &mut Part, f: &mut dyn FnMut(&mut String)) {
    match part {
        Part::Text { content } | Part::Reasoning { content } => f(content),
        Part::ToolCall { arguments: v, .. } | Part::ToolCallResponse { response: v, .. } => {
            value_texts(v, f)
        }
        Part::Blob { content, .. } => f(content),
        Part::Uri { uri, .. } => f(uri),
    }
}

/// The content attribute for `content`: cleaned, as JSON in the parts format, at most
/// `max` bytes. Longer content is cut string by string (each cut ends with `…`), so the
/// JSON stays valid; if even that cannot fit, `[]`.
pub(crate) fn content_json(
    content: Content<'_>,
    clean: &dyn Fn(&mut String),
    max: usize,
) -> String {
    let mut owned = match content {
        Content::Messages(m) => OwnedContent::Messages(m.to_vec()),
        Content::Parts(p) => OwnedContent::Parts(p.to_vec()),
    };
    owned.for_each_text(&mut |s| clean(s));
    let mut json = owned.to_json();
    for _ in 0..4 {
        if json.len() <= max {
            return json;
        }
        let mut total = 0usize;
        owned.for_each_text(&mut |s| total += s.len());
        if total == 0 {
            break;
        }
        // Shrink every string by the same ratio, with room for escapes and the marks.
        let excess = json.len() - max;
        let keep = total.saturating_sub(excess * 2 + 64) as f64 / total as f64;
        owned.for_each_text(&mut |s| {
            let target = (s.len() as f64 * keep) as usize;
            if target < s.len() {
                let mut cut = target;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push('…');
            }
        });
        json = owned.to_json();
    }
    if json.len() <= max {
        json
    } else {
        "[]".to_owned()
    }
}

/// Complete a finished call and build its log: decode what is left, settle the outcome
/// if the caller's path did not, build the log. Runs on the exporter's thread. `None`
/// when the `on_log` hook drops it or panics.
pub(crate) fn complete(config: &Config, mut finished: Finished) -> Option<LogRequest> {
    finished.decode_rest();
    if finished.error.is_none() {
        finished.settle(config, None);
    }
    build(config, finished)
}

fn build(config: &Config, finished: Finished) -> Option<LogRequest> {
    let Finished {
        detected,
        mut request,
        request_body,
        response_body,
        response_body_logged,
        mut generation,
        error,
        timing,
        created_at,
        ctx,
        secrets,
        truncated,
        ..
    } = finished;
    let provider = detected.provider;
    let operation = detected.operation;
    let duration = timing.duration;
    let error = error.flatten();
    let clean = |s: &mut String| clean(config, &secrets, s);
    let content = config.log_content();
    let response_body = response_body.filter(|_| response_body_logged);

    let mut log = LogRequest {
        session_reference_id: ctx.session_reference_id,
        parent_reference_id: ctx.parent_reference_id,
        reference_id: Some(ctx.reference_id.into_string()),
        save: Some(ctx.save.unwrap_or(config.save())),
        created_at: Some(humantime::format_rfc3339_millis(created_at).to_string()),
        duration: Some(duration),
        prompt_tokens: generation.usage.input_tokens,
        output_tokens: generation.usage.output_tokens,
        ..LogRequest::default()
    };

    config.log_defaults().stamp(&mut log);
    let mut metadata = config.log_defaults().metadata.clone();
    metadata.extend(ctx.metadata);
    if truncated {
        metadata.insert("humanloop.output_truncated".to_owned(), Value::Bool(true));
    }
    // What the log's own fields cannot say, under the span attributes' names (the UI
    // shows them): time to first chunk, cache and reasoning tokens.
    let usage = &generation.usage;
    for (key, value) in [
        (
            "gen_ai.response.time_to_first_chunk",
            timing.time_to_first_chunk.map(Value::from),
        ),
        (
            "gen_ai.usage.cache_read.input_tokens",
            usage.cache_read_input_tokens.map(Value::from),
        ),
        (
            "gen_ai.usage.cache_creation.input_tokens",
            usage.cache_creation_input_tokens.map(Value::from),
        ),
        (
            "gen_ai.usage.reasoning.output_tokens",
            usage.reasoning_output_tokens.map(Value::from),
        ),
    ] {
        if let Some(v) = value {
            metadata.insert(key.to_owned(), v);
        }
    }
    if !metadata.is_empty() {
        log.metadata = Some(metadata);
    }

    let model = generation
        .response_model
        .clone()
        .or_else(|| request.model.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    if let Some(price) = config.prices().price(&model) {
        log.prompt_cost = log
            .prompt_tokens
            .map(|n| pricing::cost(n, price.input_per_mtok));
        log.output_cost = log
            .output_tokens
            .map(|n| pricing::cost(n, price.output_per_mtok));
    }
    log.config = Some(LogConfig::Model(model_config(
        model, &provider, operation, &request,
    )));

    if let Some(mut e) = error {
        secrets.scrub(&mut e);
        log.error = Some(e);
    }

    if content {
        for m in &mut request.messages {
            m.parts
                .iter_mut()
                .for_each(|p| part_texts(p, &mut |s| clean(s)));
        }
        request
            .system
            .iter_mut()
            .for_each(|p| part_texts(p, &mut |s| clean(s)));
        for m in &mut generation.choices {
            m.parts
                .iter_mut()
                .for_each(|p| part_texts(p, &mut |s| clean(s)));
        }
        let mut messages = Vec::new();
        let system = joined_text(&request.system);
        if !system.is_empty() {
            messages.push(ChatMessage::system(system));
        }
        for m in &request.messages {
            to_chat_messages(m, &mut messages);
        }
        if !messages.is_empty() {
            log.messages = Some(messages);
        }
        if let Some(first) = generation.choices.first() {
            log.output = Some(first.joined_text());
            let mut out = Vec::with_capacity(1);
            to_chat_messages(first, &mut out);
            log.output_message = out.into_iter().next();
        }
        // As they came when nothing in them needs cleaning (and no hook is to see them as
        // values): parsing and writing out the bodies was half of what a log cost.
        let as_written = config.hooks().redact.is_none() && config.hooks().on_log.is_none();
        let (raw_request, value) = provider_body(request_body, as_written, &secrets, &clean);
        log.provider_request = value;
        let (raw_response, value) = provider_body(response_body, as_written, &secrets, &clean);
        log.provider_response = value;
        log.raw_bodies = crate::api::RawBodies {
            provider_request: raw_request,
            provider_response: raw_response,
        };
        log.user = request.user.take();
    }

    if let Some(hook) = &config.hooks().on_log {
        match contain("on_log", || hook(&mut log)) {
            Some(true) => {}
            Some(false) | None => return None,
        }
    }
    Some(log)
}

fn model_config(
    model: String,
    provider: &str,
    operation: Operation,
    request: &LlmRequest,
) -> ModelConfig {
    let p = &request.params;
    let mut other = JsonMap::new();
    if let Some(k) = p.top_k {
        other.insert("top_k".to_owned(), k.into());
    }
    if let Some(n) = p.choice_count {
        other.insert("n".to_owned(), n.into());
    }
    if let Some(t) = &p.output_type {
        other.insert("output_type".to_owned(), t.clone().into());
    }
    if request.stream {
        other.insert("stream".to_owned(), true.into());
    }
    ModelConfig {
        provider: Some(endpoint_provider(provider).to_owned()),
        endpoint: Some(match operation {
            Operation::TextCompletion => ModelEndpoint::Complete,
            Operation::Embeddings => ModelEndpoint::Other("embeddings".to_owned()),
            _ => ModelEndpoint::Chat,
        }),
        max_tokens: p.max_tokens,
        temperature: p.temperature,
        top_p: p.top_p,
        stop: match p.stop_sequences.len() {
            0 => None,
            1 => Some(Stop::One(p.stop_sequences[0].clone())),
            _ => Some(Stop::Many(p.stop_sequences.clone())),
        },
        presence_penalty: p.presence_penalty,
        frequency_penalty: p.frequency_penalty,
        seed: p.seed,
        response_format: p.response_format.clone(),
        other: (!other.is_empty()).then_some(other),
        tools: (!request.tools.is_empty()).then(|| request.tools.clone()),
        ..ModelConfig::new(model)
    }
}

/// The endpoint's provider names for the GenAI conventions' ones.
fn endpoint_provider(provider: &str) -> &str {
    match provider {
        "azure.ai.openai" => "openai_azure",
        "gcp.gemini" | "gcp.vertex_ai" | "gcp.gen_ai" => "google",
        "aws.bedrock" => "bedrock",
        other => other,
    }
}

fn joined_text(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        if let Part::Text { content } = p {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(content);
        }
    }
    out
}

fn value_as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One message in the parts format as the endpoint's chat messages (tool results
/// become one `tool` message each).
fn to_chat_messages(m: &Message, out: &mut Vec<ChatMessage>) {
    let mut text = String::new();
    let mut parts: Vec<ContentPart> = Vec::new();
    let mut tool_calls = Vec::new();
    let mut has_image = false;
    for p in &m.parts {
        match p {
            Part::Text { content } => {
                text.push_str(content);
                parts.push(ContentPart::Text {
                    text: content.clone(),
                });
            }
            Part::ToolCall {
                id,
                name,
                arguments,
            } => tool_calls.push(ToolCall::function(
                id.clone().unwrap_or_default(),
                name.clone(),
                value_as_string(arguments),
            )),
            Part::ToolCallResponse { id, response } => out.push(ChatMessage {
                tool_call_id: id.clone(),
                ..ChatMessage::new(Role::Tool, value_as_string(response))
            }),
            Part::Uri { uri, modality } if modality == "image" => {
                has_image = true;
                parts.push(ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: uri.clone(),
                        detail: None,
                    },
                });
            }
            Part::Blob {
                mime_type,
                modality,
                content,
            } if modality == "image" => {
                has_image = true;
                let mime = mime_type.as_deref().unwrap_or("image/png");
                parts.push(ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: format!("data:{mime};base64,{content}"),
                        detail: None,
                    },
                });
            }
            _ => {} // reasoning and other media are not part of the chat format
        }
    }
    let had_tool_results = m
        .parts
        .iter()
        .any(|p| matches!(p, Part::ToolCallResponse { .. }));
    let content = if has_image {
        Some(MessageContent::Parts(parts))
    } else if !text.is_empty() {
        Some(MessageContent::Text(text))
    } else if !tool_calls.is_empty() {
        None
    } else if had_tool_results {
        return; // the tool messages above are the whole message
    } else {
        Some(MessageContent::Text(String::new()))
    };
    out.push(ChatMessage {
        role: Role::from(m.role.as_str()),
        content,
        name: m.name.clone(),
        tool_call_id: None,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
    });
}

/// A provider body for the log: as it came (`as_written`, and nothing in it needs cleaning:
/// no secret-named field, none of the call's secrets, no `\u` escape, which could spell
/// one out of sight of the byte search), else parsed and cleaned ([`json_body`]). Neither
/// when it is not JSON.
fn provider_body<B: AsRef<[u8]> + Into<Vec<u8>>>(
    body: Option<B>,
    as_written: bool,
    secrets: &super::Secrets,
    clean: &dyn Fn(&mut String),
) -> (Option<Box<serde_json::value::RawValue>>, Option<Value>) {
    // Built once: building a searcher per body cost about as much as the search.
    static ESCAPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));
    let Some(body) = body else {
        return (None, None);
    };
    let bytes = body.as_ref();
    if as_written
        && !redact::CAPTURED_SECRET_KEYS.named_in(bytes)
        && ESCAPE.find(bytes).is_none()
        && !secrets.found_in(bytes)
    {
        let raw = String::from_utf8(body.into())
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok());
        return (raw, None);
    }
    (None, json_body(bytes, clean))
}

/// A provider body as JSON, secrets removed and strings cleaned; `None` if not JSON.
fn json_body(body: &[u8], clean: &dyn Fn(&mut String)) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    redact::mask_secret_values(&mut v, &redact::CAPTURED_SECRET_KEYS);
    value_texts(&mut v, &mut |s| clean(s));
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_json_stays_valid_when_cut() {
        let messages = vec![
            Message::text("user", "é".repeat(5000)),
            Message::text("assistant", "\"quoted\" ".repeat(300)),
        ];
        let noop = |_: &mut String| {};
        let full = content_json(Content::Messages(&messages), &noop, usize::MAX);
        assert!(full.len() > 10_000);
        for max in [2000, 500, 120] {
            let cut = content_json(Content::Messages(&messages), &noop, max);
            assert!(cut.len() <= max, "{} > {max}", cut.len());
            let v: Value = serde_json::from_str(&cut).unwrap();
            assert!(v.is_array());
        }
        assert_eq!(content_json(Content::Messages(&messages), &noop, 10), "[]");
    }
}
