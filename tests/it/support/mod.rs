//! Shared by the codec tests: fixtures and a small SSE splitter.
#![allow(dead_code)]

use humanloop_tracing::provider::{
    Codec, Generation, LlmRequest, Message, Part, RequestHead, TokenUsage,
};

/// The bytes of `tests/fixtures/{path}`.
pub fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// Splits an SSE body into `(event name, data)` pairs, the way the capture layer does:
/// events end at a blank line, `data:` lines are joined by `\n`, comments are skipped.
pub fn sse_events(body: &[u8]) -> Vec<(Option<String>, Vec<u8>)> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    let mut out = Vec::new();
    let (mut event, mut data, mut has_data) = (None, String::new(), false);
    for line in text.split('\n') {
        if line.is_empty() {
            if has_data {
                out.push((event.take(), std::mem::take(&mut data).into_bytes()));
            }
            event = None;
            has_data = false;
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => {
                if has_data {
                    data.push('\n');
                }
                data.push_str(value);
                has_data = true;
            }
            _ => {}
        }
    }
    if has_data {
        out.push((event, data.into_bytes()));
    }
    out
}

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
