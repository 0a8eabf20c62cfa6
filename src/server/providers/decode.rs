//! Provider answers read through the library's own codecs ([`crate::provider`]), so the
//! endpoint stores what the middleware records for the same call, and a stream is read
//! with the codecs' allocation-free decoders rather than a `serde_json::Value` per event.

use serde_json::{json, Value};

use super::{finish, Completion, ProviderError};
use crate::api::{FinishReason, ToolCall};
use crate::provider::{
    AnthropicMessages, Codec, Generation, LlmRequest, OpenAiChat, OpenAiCompletions, Operation,
    Part, ResponseDecoder,
};

/// The provider API an answer comes from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Api {
    OpenAiChat,
    OpenAiCompletions,
    Anthropic,
}

impl Api {
    fn decoder(self) -> Box<dyn ResponseDecoder> {
        match self {
            Api::OpenAiChat => OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat)),
            Api::OpenAiCompletions => {
                OpenAiCompletions.response_decoder(&LlmRequest::empty(Operation::TextCompletion))
            }
            Api::Anthropic => {
                AnthropicMessages.response_decoder(&LlmRequest::empty(Operation::Chat))
            }
        }
    }
}

/// A whole (non-streaming) answer: `body` is the provider's JSON.
pub(super) fn answer(api: Api, body: &[u8]) -> Result<Completion, ProviderError> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|e| ProviderError::new(format!("unreadable provider answer: {e}")))?;
    let mut decoder = api.decoder();
    decoder.on_body(body);
    let g = decoder.finish();
    let finish_reason = first_finish_reason(&g).map(finish);
    Ok(completion(g, finish_reason, raw, true))
}

/// One streamed answer being read: feeds each event to the codec's decoder and hands out
/// the text the event added.
pub(super) struct StreamReader {
    api: Api,
    decoder: Box<dyn ResponseDecoder>,
    /// Bytes of output text already handed out.
    relayed: usize,
    /// The event the stored `provider_response` is built from: OpenAI's latest JSON event
    /// (the usage chunk, or the one with the finish reason), Anthropic's `message_start`.
    kept: Vec<u8>,
}

impl StreamReader {
    pub(super) fn new(api: Api) -> Self {
        Self {
            api,
            decoder: api.decoder(),
            relayed: 0,
            kept: Vec::new(),
        }
    }

    /// One event (`event` is its SSE `event:` name); the text it added, if any.
    pub(super) fn feed(&mut self, event: &str, data: &str) -> Option<String> {
        let json = data.trim_start().starts_with('{');
        let keep = match self.api {
            Api::Anthropic => json && (event == "message_start" || self.kept.is_empty()),
            Api::OpenAiChat | Api::OpenAiCompletions => json,
        };
        if keep {
            self.kept.clear();
            self.kept.extend_from_slice(data.as_bytes());
        }
        self.decoder.on_event(Some(event), data.as_bytes());
        let mut text = String::new();
        self.relayed = self.decoder.text_since(self.relayed, &mut text);
        (!text.is_empty()).then_some(text)
    }

    /// The protocol said everything that matters (`[DONE]`, Anthropic's stop reason).
    pub(super) fn ended(&self) -> bool {
        self.decoder.is_complete()
    }

    /// The summary after the last event; an error when the provider reported one or the
    /// stream was cut before its answer finished. `clean_end`: the body ended normally.
    pub(super) fn finish(&mut self, clean_end: bool) -> Result<Completion, ProviderError> {
        let complete = self.decoder.is_complete();
        let g = self.decoder.finish();
        if let Some(e) = &g.error {
            return Err(ProviderError {
                message: "the provider reported an error mid-stream".to_owned(),
                status: None,
                body: Some(json!({ "code": e.code, "message": e.message })),
            });
        }
        let finish_reason = match first_finish_reason(&g) {
            Some(r) => finish(r),
            // `[DONE]` without a reason, or a terse OpenAI-compatible server that closes
            // the stream cleanly after its last chunk: the sample did finish.
            None if complete => FinishReason::Stop,
            None if clean_end
                && !self.kept.is_empty()
                && matches!(self.api, Api::OpenAiChat | Api::OpenAiCompletions) =>
            {
                FinishReason::Stop
            }
            None => return Err(ProviderError::new("the provider stream ended early")),
        };
        let mut raw: Value = serde_json::from_slice(&self.kept).unwrap_or(Value::Null);
        if let Api::Anthropic = self.api {
            // The stored response is the message as a whole answer would give it.
            raw = raw.get_mut("message").map(Value::take).unwrap_or(raw);
            if let Some(m) = raw.as_object_mut() {
                if let Some(r) = first_finish_reason(&g) {
                    m.insert("stop_reason".to_owned(), json!(r));
                }
                if let Some(n) = g.usage.output_tokens {
                    let usage = m.entry("usage").or_insert_with(|| json!({}));
                    if let Some(u) = usage.as_object_mut() {
                        u.insert("output_tokens".to_owned(), json!(n));
                    }
                }
            }
        }
        // Streamed text went out as deltas: the summary carries none.
        Ok(completion(g, Some(finish_reason), raw, false))
    }
}

fn first_finish_reason(g: &Generation) -> Option<&str> {
    g.choices
        .first()
        .and_then(|c| c.finish_reason.as_deref())
        .filter(|r| !r.is_empty())
}

/// The first choice's text and tool calls, with the usage.
fn completion(
    g: Generation,
    finish_reason: Option<FinishReason>,
    raw: Value,
    with_text: bool,
) -> Completion {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in g
        .choices
        .into_iter()
        .next()
        .into_iter()
        .flat_map(|c| c.parts)
    {
        match part {
            Part::Text { content } if with_text => text.push_str(&content),
            Part::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(ToolCall::function(
                id.unwrap_or_default(),
                name,
                match arguments {
                    Value::String(s) => s,
                    v => v.to_string(),
                },
            )),
            _ => {}
        }
    }
    Completion {
        raw_output: text,
        finish_reason,
        tool_calls: (!calls.is_empty()).then_some(calls),
        prompt_tokens: g.usage.input_tokens,
        output_tokens: g.usage.output_tokens,
        raw,
    }
}
