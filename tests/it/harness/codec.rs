//! For the codec tests: request heads, and decoding a body or an SSE stream with a codec.

use super::fixtures::sse_events;
use humanloop_tracing::provider::{
    Codec, Generation, LlmRequest, Message, Part, RequestHead, TokenUsage,
};

/// A request head for `method url`.
pub struct Head {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
}

impl Head {
    pub fn new(method: &str, url: &str) -> Self {
        Head {
            method: method.parse().unwrap(),
            uri: url.parse().unwrap(),
            headers: http::HeaderMap::new(),
        }
    }
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }
    pub fn head(&self) -> RequestHead<'_> {
        RequestHead {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
        }
    }
}

/// Decodes a plain JSON body with `codec`.
pub fn decode_body(codec: &dyn Codec, request: &LlmRequest, body: &[u8]) -> Generation {
    let mut d = codec.response_decoder(request);
    d.on_body(body);
    d.finish()
}

/// Decodes an SSE body, event by event, with `codec`.
pub fn decode_stream(codec: &dyn Codec, request: &LlmRequest, body: &[u8]) -> Generation {
    let mut d = codec.response_decoder(request);
    for (event, data) in sse_events(body) {
        d.on_event(event.as_deref(), &data);
    }
    d.finish()
}

/// An output message with `parts` (the non-exhaustive struct is built field by field).
pub fn out_message(parts: Vec<Part>, finish_reason: Option<&str>) -> Message {
    let mut m = Message::default();
    m.role = "assistant".into();
    m.parts = parts;
    m.finish_reason = finish_reason.map(str::to_owned);
    m
}

pub fn text(s: &str) -> Part {
    Part::Text { content: s.into() }
}

pub fn usage(
    input: Option<i64>,
    output: Option<i64>,
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
    reasoning: Option<i64>,
) -> TokenUsage {
    let mut u = TokenUsage::default();
    u.input_tokens = input;
    u.output_tokens = output;
    u.cache_read_input_tokens = cache_read;
    u.cache_creation_input_tokens = cache_creation;
    u.reasoning_output_tokens = reasoning;
    u
}

/// Decodes fixture `path` with `codec`: event by event when it is an SSE file (`.sse`),
/// else as one body.
pub fn decoded(codec: &dyn Codec, request: &LlmRequest, path: &str) -> Generation {
    let body = super::fixtures::fixture(path);
    if path.ends_with(".sse") {
        decode_stream(codec, request, &body)
    } else {
        decode_body(codec, request, &body)
    }
}

/// Fixture `path` decoded by `codec` for a chat request ([`decoded`]).
pub fn chat(codec: &dyn Codec, path: &str) -> Generation {
    decoded(
        codec,
        &LlmRequest::empty(humanloop_tracing::provider::Operation::Chat),
        path,
    )
}

/// The choices of an answer that is one message of `parts`.
pub fn one(parts: Vec<Part>, finish_reason: Option<&str>) -> Vec<Message> {
    vec![out_message(parts, finish_reason)]
}

/// The choices of an answer that is one message of one text part, `said`.
pub fn said(said: &str, finish_reason: Option<&str>) -> Vec<Message> {
    one(vec![text(said)], finish_reason)
}

/// The messages of a decoded request, as JSON.
pub fn messages_of(request: &LlmRequest) -> serde_json::Value {
    serde_json::to_value(&request.messages).unwrap()
}

/// [`messages_of`] a request that is one user message of one text part, `content`.
pub fn user_text(content: &str) -> serde_json::Value {
    serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": content}]}])
}

/// Assert the answer's response id and model.
pub fn assert_id_and_model(g: &Generation, id: &str, model: &str) {
    assert_eq!(g.response_id.as_deref(), Some(id), "response id");
    assert_eq!(g.response_model.as_deref(), Some(model), "response model");
}

/// A tool call part.
pub fn tool_call(id: Option<&str>, name: &str, arguments: serde_json::Value) -> Part {
    Part::ToolCall {
        id: id.map(str::to_owned),
        name: name.into(),
        arguments,
    }
}
