//! OpenAI Responses (`POST …/v1/responses`, also Azure's `/openai/v1/responses`).
//!
//! Streams are typed events: `response.created` / `in_progress` (id, model),
//! `response.output_item.added` / `done` (items by `output_index`),
//! `response.output_text.delta`, `response.refusal.delta`,
//! `response.function_call_arguments.delta` / `done`, reasoning summary deltas,
//! `response.completed` / `incomplete` / `failed` (usage, status, error) and `error`.
//! A `done` event carries the whole item and replaces what the deltas built, so a
//! missed delta does not corrupt the result.
//!
//! A response is one choice. Its finish reason is the response's `status`
//! (`completed`, `failed`, …) or, for an incomplete response, the reason given
//! (`max_output_tokens`, `content_filter`). Refusals are text parts, as in the chat codec.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::common::{
    normalise_role, set_latest, set_once, url_part, value_f64, value_i64, value_str, Block,
    ChoiceAcc, ErrorObject, Int, List, Str, Text, ToolAcc, MAX_ITEMS,
};
use super::openai_chat::{request_arguments, Usage};
use super::{
    path_of, Codec, Generation, LlmRequest, Message, Operation, Part, ProviderError, RequestHead,
    RequestParams, ResponseDecoder, TokenUsage,
};

/// The Responses codec (`openai.responses`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAiResponses;

impl Codec for OpenAiResponses {
    fn id(&self) -> &'static str {
        "openai.responses"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        (head.method == http::Method::POST && path_of(head).ends_with("/responses"))
            .then_some(Operation::Chat)
    }

    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        super::openai_provider_name(head)
    }

    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let mut req = decode_request(body, &[]);
        if req.model.is_none() {
            req.model = super::azure_deployment(head).map(str::to_owned);
        }
        req
    }

    fn decode_request_head(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let mut req = decode_request(body, &["input", "instructions", "tools"]);
        if req.model.is_none() {
            req.model = super::azure_deployment(head).map(str::to_owned);
        }
        req
    }

    fn response_decoder(&self, _request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(ResponsesDecoder::default())
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        super::common::decode_error_envelope(body)
    }
}

/// Decodes a Responses request body (best effort), without the fields in `skip`.
fn decode_request(body: &[u8], skip: &[&str]) -> LlmRequest {
    let mut req = LlmRequest::empty(Operation::Chat);
    let Some(v) = super::common::parse_object(body, skip) else {
        return req;
    };
    req.model = value_str(v.get("model"));
    req.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    req.user = value_str(v.get("user")).or_else(|| value_str(v.get("safety_identifier")));
    let format = v
        .get("text")
        .and_then(|t| t.get("format"))
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str);
    req.params = RequestParams {
        temperature: value_f64(v.get("temperature")),
        top_p: value_f64(v.get("top_p")),
        max_tokens: value_i64(v.get("max_output_tokens")),
        output_type: match format {
            Some("json_schema" | "json_object") => Some("json".into()),
            Some("text") => Some("text".into()),
            _ => None,
        },
        service_tier: value_str(v.get("service_tier")),
        ..RequestParams::default()
    };
    if let Some(Value::String(s)) = v.get("instructions") {
        req.system.push(Part::Text { content: s.clone() });
    }
    match v.get("input") {
        Some(Value::String(s)) => req.messages.push(Message::text("user", s.clone())),
        Some(Value::Array(items)) => req.messages = items.iter().filter_map(input_item).collect(),
        _ => {}
    }
    if let Some(Value::Array(tools)) = v.get("tools") {
        req.tools = tools.clone();
    }
    req
}

fn message(role: &str, parts: Vec<Part>) -> Message {
    Message {
        role: normalise_role(role),
        parts,
        name: None,
        finish_reason: None,
    }
}

/// One `input` item as a message.
fn input_item(item: &Value) -> Option<Message> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
            let parts = match item.get("content") {
                Some(Value::String(s)) => vec![Part::Text { content: s.clone() }],
                Some(Value::Array(a)) => a.iter().filter_map(input_content).collect(),
                _ => Vec::new(),
            };
            Some(message(role, parts))
        }
        "function_call" => Some(message(
            "assistant",
            vec![Part::ToolCall {
                id: value_str(item.get("call_id")),
                name: value_str(item.get("name")).unwrap_or_default(),
                arguments: request_arguments(item.get("arguments")),
            }],
        )),
        "function_call_output" => Some(message(
            "tool",
            vec![Part::ToolCallResponse {
                id: value_str(item.get("call_id")),
                response: item.get("output").cloned().unwrap_or(Value::Null),
            }],
        )),
        "reasoning" => {
            let mut text = String::new();
            if let Some(Value::Array(s)) = item.get("summary") {
                for t in s.iter().filter_map(|x| x.get("text")?.as_str()) {
                    text.push_str(t);
                }
            }
            Some(message(
                "assistant",
                vec![Part::Reasoning { content: text }],
            ))
        }
        _ => None,
    }
}

fn input_content(c: &Value) -> Option<Part> {
    match c.get("type").and_then(Value::as_str)? {
        "input_text" | "output_text" | "text" => Some(Part::Text {
            content: value_str(c.get("text"))?,
        }),
        "refusal" => Some(Part::Text {
            content: value_str(c.get("refusal"))?,
        }),
        "input_image" => match c.get("image_url").and_then(Value::as_str) {
            Some(url) => Some(url_part(url, "image")),
            None => Some(Part::Uri {
                uri: value_str(c.get("file_id"))?,
                modality: "image".into(),
            }),
        },
        "input_file" => match c.get("file_data").and_then(Value::as_str) {
            Some(data) => Some(url_part(data, "file")),
            None => Some(Part::Uri {
                uri: value_str(c.get("file_url")).or_else(|| value_str(c.get("file_id")))?,
                modality: "file".into(),
            }),
        },
        "input_audio" => {
            let a = c.get("input_audio")?;
            Some(Part::Blob {
                mime_type: value_str(a.get("format")).map(|f| format!("audio/{f}")),
                modality: "audio".into(),
                content: value_str(a.get("data"))?,
            })
        }
        _ => None,
    }
}

// ---- responses ----------------------------------------------------------------------

/// A response object (plain body, and the payload of lifecycle events).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ResponseObj<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    model: Str<'a>,
    #[serde(borrow)]
    status: Str<'a>,
    #[serde(borrow)]
    output: List<OutItem<'a>>,
    usage: Option<Usage>,
    #[serde(borrow)]
    error: Option<ErrorObject<'a>>,
    #[serde(borrow)]
    incomplete_details: Option<Incomplete<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Incomplete<'a> {
    #[serde(borrow)]
    reason: Str<'a>,
}

/// An output item: a message, a function call, reasoning, or another tool's item.
#[derive(Deserialize, Default)]
#[serde(default)]
struct OutItem<'a> {
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(borrow)]
    role: Str<'a>,
    #[serde(borrow)]
    call_id: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    arguments: Str<'a>,
    #[serde(borrow)]
    content: List<OutContent<'a>>,
    #[serde(borrow)]
    summary: List<OutContent<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OutContent<'a> {
    #[serde(borrow)]
    text: Str<'a>,
    #[serde(borrow)]
    refusal: Str<'a>,
}

/// A stream event (the union of the fields the events used here carry).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Event<'a> {
    #[serde(borrow, rename = "type")]
    kind: Str<'a>,
    /// Boxed, as is `item`: only a few events of a stream carry them, and inline they made
    /// every event 952 bytes, moved several times per decode (the text deltas too).
    #[serde(borrow)]
    response: Option<Box<ResponseObj<'a>>>,
    output_index: Int,
    #[serde(borrow)]
    item: Option<Box<OutItem<'a>>>,
    #[serde(borrow)]
    delta: Text<'a>,
    #[serde(borrow)]
    arguments: Str<'a>,
    /// `error` events carry `code` and `message` at the top level.
    #[serde(borrow)]
    code: Str<'a>,
    #[serde(borrow)]
    message: Str<'a>,
}

/// Response decoder for the Responses API (bodies and typed event streams).
#[derive(Debug, Default)]
pub struct ResponsesDecoder {
    id: Option<String>,
    model: Option<String>,
    status: Option<String>,
    incomplete_reason: Option<String>,
    role: Option<String>,
    /// Output items by `output_index`.
    items: Vec<Block>,
    seen: bool,
    usage: TokenUsage,
    error: Option<ProviderError>,
    /// A terminal event (`response.completed`, `.incomplete`, `.failed`, `error`) arrived.
    done: bool,
}

/// The block an output item becomes (`None`: not output, e.g. a web search call).
fn item_block(item: &OutItem<'_>) -> Option<Block> {
    match item.kind.as_deref()? {
        "message" => {
            let mut text = String::new();
            for c in item.content.iter() {
                text.push_str(c.text.as_deref().or(c.refusal.as_deref()).unwrap_or(""));
            }
            Some(Block::Text(text))
        }
        "function_call" | "custom_tool_call" => Some(Block::Tool(ToolAcc {
            id: item.call_id.owned(),
            name: item.name.owned().unwrap_or_default(),
            arguments: item.arguments.owned().unwrap_or_default(),
            value: None,
        })),
        "reasoning" => {
            let mut text = String::new();
            for c in item.summary.iter().chain(item.content.iter()) {
                text.push_str(c.text.or_empty());
            }
            Some(Block::Reasoning(text))
        }
        _ => None,
    }
}

impl ResponsesDecoder {
    fn slot(&mut self, index: Int, make: impl FnOnce() -> Block) -> Option<&mut Block> {
        let i = index.index(MAX_ITEMS)?;
        if self.items.len() <= i {
            self.items.resize_with(i + 1, || Block::Other);
        }
        self.seen = true;
        let b = &mut self.items[i];
        if matches!(b, Block::Other) {
            *b = make();
        }
        Some(b)
    }

    fn response(&mut self, r: &ResponseObj<'_>) {
        set_once(&mut self.id, &r.id);
        set_once(&mut self.model, &r.model);
        set_latest(&mut self.status, &r.status);
        if let Some(u) = &r.usage {
            self.usage = u.to_usage();
        }
        if let Some(e) = &r.error {
            self.error = Some(e.to_error());
        }
        if let Some(i) = &r.incomplete_details {
            set_latest(&mut self.incomplete_reason, &i.reason);
        }
        // The final response lists every item: take them when the deltas were missed.
        if self.items.is_empty() && !r.output.is_empty() {
            self.seen = true;
            for item in r.output.iter() {
                set_once(&mut self.role, &item.role);
                if self.items.len() < MAX_ITEMS {
                    self.items.push(item_block(item).unwrap_or(Block::Other));
                }
            }
        }
    }

    fn apply(&mut self, ev: Event<'_>) {
        let Some(kind) = ev.kind.as_deref() else {
            return;
        };
        self.done |= matches!(
            kind,
            "response.completed" | "response.incomplete" | "response.failed" | "error"
        );
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(Block::Text(t)) =
                    self.slot(ev.output_index, || Block::Text(String::new()))
                {
                    ev.delta.append_to(t);
                }
            }
            "response.function_call_arguments.delta" => {
                let b = self.slot(ev.output_index, || Block::Tool(ToolAcc::default()));
                if let Some(Block::Tool(t)) = b {
                    ev.delta.append_to(&mut t.arguments);
                }
            }
            "response.function_call_arguments.done" => {
                let b = self.slot(ev.output_index, || Block::Tool(ToolAcc::default()));
                if let (Some(Block::Tool(t)), Some(args)) = (b, ev.arguments.as_deref()) {
                    t.arguments.clear();
                    t.arguments.push_str(args);
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let b = self.slot(ev.output_index, || Block::Reasoning(String::new()));
                if let Some(Block::Reasoning(t)) = b {
                    ev.delta.append_to(t);
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                let Some(item) = &ev.item else { return };
                set_once(&mut self.role, &item.role);
                let Some(new) = item_block(item) else { return };
                let done = kind == "response.output_item.done";
                if let Some(b) = self.slot(ev.output_index, || Block::Other) {
                    // `added` opens the item (keeping deltas that came first);
                    // `done` is the whole item and wins.
                    if done || matches!(b, Block::Other) {
                        *b = new;
                    } else if let (Block::Tool(t), Block::Tool(n)) = (b, new) {
                        t.id = t.id.take().or(n.id);
                        if t.name.is_empty() {
                            t.name = n.name;
                        }
                    }
                }
            }
            "error" => {
                self.error = Some(ProviderError {
                    code: ev.code.owned(),
                    message: ev.message.owned(),
                });
            }
            _ => {
                // Lifecycle events: response.created / in_progress / completed /
                // incomplete / failed / queued.
                if let Some(r) = &ev.response {
                    self.response(r);
                }
            }
        }
    }
}

impl ResponseDecoder for ResponsesDecoder {
    fn on_event(&mut self, _event: Option<&str>, data: &[u8]) {
        if let Some(ev) = super::common::decode_object::<Event<'_>>(data) {
            self.apply(ev);
        }
    }

    fn on_body(&mut self, body: &[u8]) {
        if let Some(r) = super::common::decode_object::<ResponseObj<'_>>(body) {
            self.response(&r);
        }
    }

    fn finish(&mut self) -> Generation {
        let this = std::mem::take(self);
        let finish_reason = match this.status.as_deref() {
            Some("incomplete") => this.incomplete_reason.or(this.status),
            _ => this.status,
        };
        let choice = ChoiceAcc {
            seen: this.seen,
            role: this.role,
            blocks: this.items,
            finish_reason,
            ..ChoiceAcc::default()
        };
        Generation {
            response_id: this.id,
            response_model: this.model,
            choices: choice.into_message().into_iter().collect(),
            usage: this.usage,
            error: this.error,
            embeddings: None,
            ..Generation::default()
        }
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn end_marker(&self) -> Option<&'static [u8]> {
        Some(b"\nevent: response.completed")
    }
}
