//! Ollama's native API (`POST /api/chat`, `/api/generate`, `/api/embed`), as ollama-rs,
//! rig's Ollama provider and genai's Ollama adapter call it; the server listens on
//! `localhost:11434` by default. Its OpenAI-compatible `/v1/…` routes go through the
//! OpenAI codecs.
//!
//! Chat and generate stream by default (`"stream"` absent means `true`), as NDJSON
//! (`application/x-ndjson`): one JSON object a line, the last with `"done": true`,
//! `done_reason`, and the usage (`prompt_eval_count` input tokens, `eval_count` output
//! tokens). A non-streamed answer is that last object with the whole message. The model's
//! `thinking` is a reasoning part; `message.tool_calls` are tool-call parts (arguments
//! arrive as JSON objects). Sampling parameters sit under `options` (`num_predict` is the
//! token limit). Errors are `{"error": "…"}`, in the body or as a stream's last line.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::common::{
    normalise_role, parse_object, set_latest, set_once, string_list, value_f64, value_i64,
    value_str, Block, ChoiceAcc, Count, Int, List, Str, Text, ToolAcc, MAX_ITEMS,
};
use super::{
    path_of, Codec, Generation, LlmRequest, Message, Operation, Part, ProviderError, RequestHead,
    RequestParams, ResponseDecoder, TokenUsage,
};

/// The provider name of the native API.
pub const PROVIDER: &str = "ollama";

/// The native Ollama codec (`ollama`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ollama;

fn operation_of(path: &str) -> Option<Operation> {
    if path.ends_with("/api/chat") {
        Some(Operation::Chat)
    } else if path.ends_with("/api/generate") {
        Some(Operation::TextCompletion)
    } else if path.ends_with("/api/embed") || path.ends_with("/api/embeddings") {
        Some(Operation::Embeddings)
    } else {
        None
    }
}

/// Content fields the head decode skips.
const CONTENT_FIELDS: &[&str] = &["messages", "prompt", "system", "tools", "input", "images"];

impl Codec for Ollama {
    fn id(&self) -> &'static str {
        "ollama"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        if head.method != http::Method::POST {
            return None;
        }
        operation_of(path_of(head))
    }

    fn provider_name(&self, _head: &RequestHead<'_>) -> Cow<'static, str> {
        Cow::Borrowed(PROVIDER)
    }

    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        decode_request(head, body, &[])
    }

    fn decode_request_head(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        decode_request(head, body, CONTENT_FIELDS)
    }

    fn response_decoder(&self, request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(OllamaDecoder {
            operation: Some(request.operation),
            ..OllamaDecoder::default()
        })
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let message = v.get("error")?.as_str()?.to_owned();
        Some(ProviderError {
            code: None,
            message: Some(message),
        })
    }
}

fn decode_request(head: &RequestHead<'_>, body: &[u8], skip: &[&str]) -> LlmRequest {
    let operation = operation_of(path_of(head)).unwrap_or(Operation::Chat);
    let mut req = LlmRequest::empty(operation);
    let Some(v) = parse_object(body, skip) else {
        return req;
    };
    req.model = value_str(v.get("model"));
    req.stream = operation != Operation::Embeddings
        && v.get("stream").and_then(Value::as_bool).unwrap_or(true);
    if let Some(o) = v.get("options") {
        req.params = RequestParams {
            temperature: value_f64(o.get("temperature")),
            top_p: value_f64(o.get("top_p")),
            top_k: value_f64(o.get("top_k")),
            max_tokens: value_i64(o.get("num_predict")),
            frequency_penalty: value_f64(o.get("frequency_penalty")),
            presence_penalty: value_f64(o.get("presence_penalty")),
            seed: value_i64(o.get("seed")),
            stop_sequences: string_list(o.get("stop")),
            ..RequestParams::default()
        };
    }
    if v.get("format").is_some_and(|f| !f.is_null() && f != "") {
        req.params.output_type = Some("json".into());
    }
    if let Some(Value::String(system)) = v.get("system") {
        req.system.push(Part::Text {
            content: system.clone(),
        });
    }
    match operation {
        Operation::Chat => {
            if let Some(Value::Array(msgs)) = v.get("messages") {
                req.messages = msgs.iter().filter_map(chat_message).collect();
            }
        }
        Operation::TextCompletion => {
            if let Some(Value::String(prompt)) = v.get("prompt") {
                req.messages.push(Message::text("user", prompt.clone()));
            }
        }
        _ => {
            let inputs = string_list(v.get("input").or_else(|| v.get("prompt")));
            if !inputs.is_empty() {
                req.messages.push(Message {
                    role: "user".into(),
                    parts: inputs
                        .into_iter()
                        .map(|content| Part::Text { content })
                        .collect(),
                    ..Message::default()
                });
            }
        }
    }
    if let Some(Value::Array(tools)) = v.get("tools") {
        req.tools = tools.clone();
    }
    req
}

/// One request message: `role`, `content`, `thinking`, `images` (base64), `tool_calls`,
/// and for `tool` messages the result in `content` (named by `tool_name`).
fn chat_message(m: &Value) -> Option<Message> {
    let obj = m.as_object()?;
    let role = normalise_role(obj.get("role").and_then(Value::as_str).unwrap_or("user"));
    let mut parts = Vec::new();
    let content = obj.get("content").and_then(Value::as_str).unwrap_or("");
    if role == "tool" {
        parts.push(Part::ToolCallResponse {
            id: value_str(obj.get("tool_name")),
            response: Value::String(content.to_owned()),
        });
    } else {
        if let Some(Value::String(t)) = obj.get("thinking") {
            parts.push(Part::Reasoning { content: t.clone() });
        }
        if !content.is_empty() {
            parts.push(Part::Text {
                content: content.to_owned(),
            });
        }
        if let Some(Value::Array(images)) = obj.get("images") {
            for img in images.iter().filter_map(Value::as_str) {
                parts.push(Part::Blob {
                    mime_type: None,
                    modality: "image".into(),
                    content: img.to_owned(),
                });
            }
        }
        if let Some(Value::Array(calls)) = obj.get("tool_calls") {
            for c in calls {
                let f = c.get("function");
                parts.push(Part::ToolCall {
                    id: value_str(c.get("id")),
                    name: value_str(f.and_then(|f| f.get("name"))).unwrap_or_default(),
                    arguments: f
                        .and_then(|f| f.get("arguments"))
                        .cloned()
                        .unwrap_or(Value::Null),
                });
            }
        }
    }
    Some(Message {
        role,
        parts,
        ..Message::default()
    })
}

/// One NDJSON line, or a whole non-streamed answer.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Line<'a> {
    #[serde(borrow)]
    model: Str<'a>,
    #[serde(borrow)]
    message: Option<LineMessage<'a>>,
    /// `/api/generate`.
    #[serde(borrow)]
    response: Text<'a>,
    #[serde(borrow)]
    thinking: Text<'a>,
    done: Option<bool>,
    #[serde(borrow)]
    done_reason: Str<'a>,
    prompt_eval_count: Int,
    eval_count: Int,
    /// `/api/embed`: counted, never kept.
    embeddings: Count,
    /// `/api/embeddings` (legacy): one vector.
    embedding: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LineMessage<'a> {
    #[serde(borrow)]
    role: Str<'a>,
    #[serde(borrow)]
    content: Text<'a>,
    #[serde(borrow)]
    thinking: Text<'a>,
    #[serde(borrow)]
    tool_calls: List<ToolCall<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ToolCall<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Function<'a> {
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    arguments: Option<&'a RawValue>,
}

/// Response decoder for the native Ollama API: NDJSON lines (through
/// [`ResponseDecoder::on_event`]) or a whole body (several lines when a stream was kept
/// whole).
#[derive(Debug, Default)]
pub struct OllamaDecoder {
    operation: Option<Operation>,
    model: Option<String>,
    choice: ChoiceAcc,
    usage: TokenUsage,
    embeddings: Option<usize>,
    error: Option<ProviderError>,
    /// The `"done": true` line (or an error line) arrived.
    done: bool,
}

impl OllamaDecoder {
    fn apply(&mut self, line: Line<'_>) {
        set_once(&mut self.model, &line.model);
        if let Some(e) = line.error.owned() {
            self.error = Some(ProviderError {
                code: None,
                message: Some(e),
            });
            self.done = true;
        }
        let c = &mut self.choice;
        if let Some(m) = &line.message {
            set_once(&mut c.role, &m.role);
            c.append_reasoning(&m.thinking);
            c.append_text(&m.content);
            for tc in m.tool_calls.iter() {
                let Some(f) = &tc.function else { continue };
                if c.blocks.len() < MAX_ITEMS {
                    c.blocks.push(Block::Tool(ToolAcc {
                        id: tc.id.owned(),
                        name: f.name.owned().unwrap_or_default(),
                        arguments: String::new(),
                        value: f.arguments.and_then(|a| serde_json::from_str(a.get()).ok()),
                    }));
                }
            }
            c.seen = true;
        }
        if line.response.is_some() || line.thinking.is_some() {
            c.append_reasoning(&line.thinking);
            c.append_text(&line.response);
            c.seen = true;
        }
        if let Some(n) = line.embeddings.0 {
            self.embeddings = Some(n);
        } else if line.embedding.is_some() {
            self.embeddings = Some(1);
        }
        if line.prompt_eval_count.0.is_some() {
            self.usage.input_tokens = line.prompt_eval_count.0;
        }
        if line.eval_count.0.is_some() {
            self.usage.output_tokens = line.eval_count.0;
        }
        if line.done == Some(true) {
            set_latest(&mut c.finish_reason, &line.done_reason);
            if c.finish_reason.is_none() && self.operation != Some(Operation::Embeddings) {
                c.finish_reason = Some("stop".into());
            }
            self.done = true;
        }
    }
}

impl ResponseDecoder for OllamaDecoder {
    fn on_event(&mut self, _event: Option<&str>, data: &[u8]) {
        if let Some(line) = super::common::decode_object::<Line<'_>>(data) {
            self.apply(line);
        }
    }

    fn on_body(&mut self, body: &[u8]) {
        // A stream kept whole (no NDJSON content type, or a log rebuilt later) is still
        // one object a line.
        for line in body.split(|&b| b == b'\n') {
            self.on_event(None, line);
        }
    }

    fn finish(&mut self) -> Generation {
        let this = std::mem::take(self);
        let embeddings = this.embeddings;
        let choices = if this.operation == Some(Operation::Embeddings) {
            Vec::new()
        } else {
            this.choice.into_message().into_iter().collect()
        };
        Generation {
            response_id: None,
            response_model: this.model,
            choices,
            usage: this.usage,
            error: this.error,
            embeddings,
            ..Generation::default()
        }
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}
