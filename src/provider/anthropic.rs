//! Anthropic Messages (`POST …/v1/messages`).
//!
//! Streams: `message_start` (id, model, first usage), `content_block_start/delta/stop`
//! (text, `input_json_delta` tool input, thinking), `message_delta` (stop reason,
//! cumulative usage), `message_stop`, `ping`, `error`. Server tool calls
//! (`server_tool_use`) are tool-call parts; their results and redacted thinking are not
//! output parts.
//!
//! Usage is normalised as the GenAI conventions define it: `input_tokens` =
//! `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`, the two cache
//! counts kept separately.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::common::{
    set_latest, set_once, string_list, value_f64, value_i64, value_str, Block, ChoiceAcc,
    ErrorObject, Int, List, Str, Text, ToolAcc, MAX_ITEMS,
};
use super::{
    path_of, Codec, Generation, LlmRequest, Message, Operation, Part, ProviderError, RequestHead,
    RequestParams, ResponseDecoder, TokenUsage,
};

/// The Anthropic Messages codec (`anthropic.messages`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnthropicMessages;

impl Codec for AnthropicMessages {
    fn id(&self) -> &'static str {
        "anthropic.messages"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        (head.method == http::Method::POST && path_of(head).ends_with("/v1/messages"))
            .then_some(Operation::Chat)
    }

    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        Cow::Borrowed(
            head.uri
                .host()
                .and_then(super::hosts::provider_for_host)
                .unwrap_or("anthropic"),
        )
    }

    fn decode_request(&self, _head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        decode_request(body, &[])
    }

    fn decode_request_head(&self, _head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        decode_request(body, &["messages", "system", "tools"])
    }

    fn response_decoder(&self, _request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(AnthropicDecoder::default())
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        super::common::decode_error_envelope(body)
    }
}

/// Decodes a Messages request body (best effort), without the fields in `skip`.
fn decode_request(body: &[u8], skip: &[&str]) -> LlmRequest {
    let mut req = LlmRequest::empty(Operation::Chat);
    let Some(v) = super::common::parse_object(body, skip) else {
        return req;
    };
    req.model = value_str(v.get("model"));
    req.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    req.user = v
        .get("metadata")
        .and_then(|m| m.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    req.params = RequestParams {
        temperature: value_f64(v.get("temperature")),
        top_p: value_f64(v.get("top_p")),
        top_k: value_f64(v.get("top_k")),
        max_tokens: value_i64(v.get("max_tokens")),
        stop_sequences: string_list(v.get("stop_sequences")),
        ..RequestParams::default()
    };
    match v.get("system") {
        Some(Value::String(s)) => req.system.push(Part::Text { content: s.clone() }),
        Some(Value::Array(blocks)) => req.system.extend(blocks.iter().filter_map(block_part)),
        _ => {}
    }
    if let Some(Value::Array(msgs)) = v.get("messages") {
        req.messages = msgs
            .iter()
            .filter_map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                let parts = match m.get("content") {
                    Some(Value::String(s)) => vec![Part::Text { content: s.clone() }],
                    Some(Value::Array(blocks)) => blocks.iter().filter_map(block_part).collect(),
                    _ => Vec::new(),
                };
                m.is_object().then(|| Message {
                    role: role.to_owned(),
                    parts,
                    name: None,
                    finish_reason: None,
                })
            })
            .collect();
    }
    if let Some(Value::Array(tools)) = v.get("tools") {
        req.tools = tools.clone();
    }
    req
}

/// A request content block as a part.
fn block_part(b: &Value) -> Option<Part> {
    match b.get("type").and_then(Value::as_str)? {
        "text" => Some(Part::Text {
            content: value_str(b.get("text"))?,
        }),
        "thinking" => Some(Part::Reasoning {
            content: value_str(b.get("thinking"))?,
        }),
        kind @ ("image" | "document") => {
            let modality = if kind == "image" { "image" } else { "document" };
            let src = b.get("source")?;
            match src.get("type").and_then(Value::as_str)? {
                "base64" => Some(Part::Blob {
                    mime_type: value_str(src.get("media_type")),
                    modality: modality.into(),
                    content: value_str(src.get("data"))?,
                }),
                "url" => Some(Part::Uri {
                    uri: value_str(src.get("url"))?,
                    modality: modality.into(),
                }),
                "text" => Some(Part::Text {
                    content: value_str(src.get("data"))?,
                }),
                _ => None,
            }
        }
        "tool_use" | "server_tool_use" => Some(Part::ToolCall {
            id: value_str(b.get("id")),
            name: value_str(b.get("name")).unwrap_or_default(),
            arguments: b.get("input").cloned().unwrap_or(Value::Null),
        }),
        "tool_result" => Some(Part::ToolCallResponse {
            id: value_str(b.get("tool_use_id")),
            response: match b.get("content") {
                Some(Value::Array(blocks)) => {
                    let mut text = String::new();
                    for t in blocks.iter().filter_map(|x| x.get("text")?.as_str()) {
                        text.push_str(t);
                    }
                    Value::String(text)
                }
                Some(c) => c.clone(),
                None => Value::Null,
            },
        }),
        _ => None,
    }
}

// ---- responses ----------------------------------------------------------------------

/// A Messages response body, or one stream event (the union of the events' fields).
/// Fields that appear once per stream are boxed: the struct stays small, and the
/// deltas (nearly every event) do not pay for moving them around. `C` is how a
/// message's content blocks are read: decoded ([`FullContent`]), or skipped by the head
/// decoder ([`IgnoredAny`]: syntax checked, nothing built). Defaults are per field, here
/// and below (the same values as a container `default`, which would build a whole
/// default struct first and move fields out of it on every event).
#[derive(Deserialize, Default)]
#[serde(bound(deserialize = "C: Deserialize<'de> + Default"))]
struct Event<'a, C = FullContent<'a>> {
    #[serde(default, borrow, rename = "type")]
    kind: Str<'a>,
    /// `message_start`.
    #[serde(default, borrow)]
    message: Option<Box<MessageObj<'a, C>>>,
    /// Content block events.
    #[serde(default)]
    index: Int,
    #[serde(default, borrow)]
    content_block: Option<Box<ContentBlock<'a>>>,
    /// `content_block_delta` or `message_delta`.
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// `message_delta`.
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default, borrow)]
    error: Option<Box<ErrorObject<'a>>>,
    // A plain body is a message object: its fields at the top level.
    #[serde(default, borrow)]
    id: Str<'a>,
    #[serde(default, borrow)]
    model: Str<'a>,
    #[serde(default, borrow)]
    role: Str<'a>,
    #[serde(default)]
    content: C,
    #[serde(default, borrow)]
    stop_reason: Str<'a>,
}

/// A message's content blocks, decoded: boxed in a stream event (a `message_start`
/// once per stream).
type FullContent<'a> = List<Box<ContentBlock<'a>>>;

#[derive(Deserialize, Default)]
#[serde(bound(deserialize = "C: Deserialize<'de> + Default"))]
struct MessageObj<'a, C> {
    #[serde(default, borrow)]
    id: Str<'a>,
    #[serde(default, borrow)]
    model: Str<'a>,
    #[serde(default, borrow)]
    role: Str<'a>,
    /// Read but not opened: a `message_start` carries no content yet (a malformed one
    /// still fails the event).
    #[allow(dead_code)]
    #[serde(default)]
    content: C,
    #[serde(default, borrow)]
    stop_reason: Str<'a>,
    #[serde(default)]
    usage: Option<Usage>,
}

/// What a plain body's content blocks open: output blocks when decoded, nothing when
/// skipped.
trait Content {
    fn open(self, d: &mut AnthropicDecoder);
}

impl Content for FullContent<'_> {
    fn open(self, d: &mut AnthropicDecoder) {
        for (i, mut cb) in self.into_iter().enumerate() {
            d.start_block(Int(i64::try_from(i).ok()), &mut cb);
        }
    }
}

impl Content for IgnoredAny {
    fn open(self, _: &mut AnthropicDecoder) {}
}

/// A plain body's content blocks, turned into output blocks as they are read: what
/// [`List`]`<ContentBlock>` followed by [`AnthropicDecoder::start_block`] per block gives
/// (same leniency), without the list in between. `blocks[i]` is block `i`'s output,
/// [`Block::Other`] where block `i` is no output; nothing past the last output block or
/// [`MAX_ITEMS`]. `I` is how a tool input is read (see [`ToolInput`]).
struct BodyContent<I, T> {
    blocks: Vec<Block>,
    input: std::marker::PhantomData<(I, T)>,
}

impl<I, T> Default for BodyContent<I, T> {
    fn default() -> Self {
        BodyContent {
            blocks: Vec::new(),
            input: std::marker::PhantomData,
        }
    }
}

impl<'de, I, T> Deserialize<'de> for BodyContent<I, T>
where
    I: ToolInput + Deserialize<'de>,
    T: TextField + Deserialize<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, SeqAccess, Visitor};
        struct V<I, T>(std::marker::PhantomData<(I, T)>);
        impl<'de, I, T> Visitor<'de> for V<I, T>
        where
            I: ToolInput + Deserialize<'de>,
            T: TextField + Deserialize<'de>,
        {
            type Value = BodyContent<I, T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("anything")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<BodyContent<I, T>, E> {
                Ok(BodyContent::default())
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<BodyContent<I, T>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<BodyContent<I, T>, A::Error> {
                let mut blocks = Vec::new();
                let mut i = 0usize;
                while let Some(mut cb) = seq.next_element::<ContentBlock<'de, I, T>>()? {
                    if i < MAX_ITEMS {
                        if let Some(b) = new_block(&mut cb) {
                            blocks.resize_with(i, || Block::Other);
                            blocks.push(b);
                        }
                    }
                    i += 1;
                }
                Ok(BodyContent {
                    blocks,
                    input: std::marker::PhantomData,
                })
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<BodyContent<I, T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(BodyContent::default())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<I, T> Content for BodyContent<I, T> {
    fn open(self, d: &mut AnthropicDecoder) {
        if d.blocks.is_empty() {
            if !self.blocks.is_empty() {
                d.choice.seen = true;
            }
            d.blocks = self.blocks;
            return;
        }
        // Blocks already open (a second body): each output block replaces its slot.
        for (i, b) in self.blocks.into_iter().enumerate() {
            if !matches!(b, Block::Other) {
                if let Some(slot) = d.block(Int(i64::try_from(i).ok()), || Block::Other) {
                    *slot = b;
                }
            }
        }
    }
}

/// How a content block's tool `input` is read: borrowed raw and parsed on its own
/// (`Option<&RawValue>`: an input that does not parse as a `Value` is absent), or parsed
/// in place (`Option<Value>`: one pass, but such an input fails the whole event).
trait ToolInput: Default {
    fn into_value(self) -> Option<Value>;
}

impl ToolInput for Option<&RawValue> {
    fn into_value(self) -> Option<Value> {
        self.and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

impl ToolInput for Option<Value> {
    fn into_value(self) -> Option<Value> {
        self
    }
}

/// How a content block's `text` and `thinking` are read: raw and unescaped by us
/// ([`Text`]: lone surrogates become U+FFFD), or by serde_json ([`Str`]: one pass, but a
/// lone surrogate fails the whole event).
trait TextField: Default {
    fn into_string(self) -> Option<String>;
}

impl TextField for Text<'_> {
    fn into_string(self) -> Option<String> {
        self.owned()
    }
}

impl TextField for Str<'_> {
    fn into_string(self) -> Option<String> {
        self.0.map(Cow::into_owned)
    }
}

#[derive(Deserialize, Default)]
#[serde(bound(deserialize = "I: Deserialize<'de> + Default, T: Deserialize<'de> + Default"))]
struct ContentBlock<'a, I = Option<&'a RawValue>, T = Text<'a>> {
    #[serde(default, borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(default)]
    text: T,
    #[serde(default)]
    thinking: T,
    #[serde(default, borrow)]
    id: Str<'a>,
    #[serde(default, borrow)]
    name: Str<'a>,
    #[serde(default)]
    input: I,
}

#[derive(Deserialize, Default)]
struct Delta<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Str<'a>,
    #[serde(default, borrow)]
    text: Text<'a>,
    #[serde(default, borrow)]
    partial_json: Text<'a>,
    #[serde(default, borrow)]
    thinking: Text<'a>,
    #[serde(default, borrow)]
    stop_reason: Str<'a>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: Int,
    #[serde(default)]
    output_tokens: Int,
    #[serde(default)]
    cache_read_input_tokens: Int,
    #[serde(default)]
    cache_creation_input_tokens: Int,
}

/// Response decoder for Anthropic Messages (bodies and streams).
#[derive(Debug, Default)]
pub struct AnthropicDecoder {
    id: Option<String>,
    model: Option<String>,
    choice: ChoiceAcc,
    /// Content blocks by their index.
    blocks: Vec<Block>,
    input: Option<i64>,
    output: Option<i64>,
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
    error: Option<ProviderError>,
    /// The stream said all that matters: `message_delta` with a stop reason (the final
    /// usage rides on it), `message_stop`, or a stream `error`.
    done: bool,
}

impl AnthropicDecoder {
    fn usage(&mut self, u: &Usage) {
        // Stream usage is cumulative: a later count replaces an earlier one.
        self.input = u.input_tokens.0.or(self.input);
        self.output = u.output_tokens.0.or(self.output);
        self.cache_read = u.cache_read_input_tokens.0.or(self.cache_read);
        self.cache_creation = u.cache_creation_input_tokens.0.or(self.cache_creation);
    }

    fn message(&mut self, id: &Str<'_>, model: &Str<'_>, role: &Str<'_>) {
        set_once(&mut self.id, id);
        set_once(&mut self.model, model);
        set_once(&mut self.choice.role, role);
        self.choice.seen = true;
    }

    /// The block at `index`, created as `make()` when absent.
    fn block(&mut self, index: Int, make: impl FnOnce() -> Block) -> Option<&mut Block> {
        let i = index.index(MAX_ITEMS)?;
        if self.blocks.len() <= i {
            self.blocks.resize_with(i + 1, || Block::Other);
        }
        let b = &mut self.blocks[i];
        if matches!(b, Block::Other) {
            *b = make();
        }
        self.choice.seen = true;
        Some(b)
    }

    fn start_block(&mut self, index: Int, cb: &mut ContentBlock<'_>) {
        let Some(new) = new_block(cb) else { return };
        if let Some(b) = self.block(index, || Block::Other) {
            *b = new;
        }
    }

    fn apply_delta(&mut self, index: Int, d: &Delta<'_>) {
        match d.kind.as_deref() {
            Some("text_delta") => {
                if let Some(Block::Text(t)) = self.block(index, || Block::Text(String::new())) {
                    d.text.append_to(t);
                }
            }
            Some("thinking_delta") => {
                let b = self.block(index, || Block::Reasoning(String::new()));
                if let Some(Block::Reasoning(t)) = b {
                    d.thinking.append_to(t);
                }
            }
            Some("input_json_delta") => {
                let b = self.block(index, || Block::Tool(ToolAcc::default()));
                if let Some(Block::Tool(t)) = b {
                    d.partial_json.append_to(&mut t.arguments);
                }
            }
            _ => {}
        }
    }

    fn apply<C: Content + Default>(&mut self, ev: &mut Event<'_, C>) {
        if let Some(e) = &ev.error {
            self.error = Some(e.to_error());
        }
        self.done |= matches!(ev.kind.as_deref(), Some("message_stop" | "error"));
        match ev.kind.as_deref() {
            Some("message_start") => {
                if let Some(m) = &ev.message {
                    self.message(&m.id, &m.model, &m.role);
                    set_latest(&mut self.choice.finish_reason, &m.stop_reason);
                    if let Some(u) = &m.usage {
                        self.usage(u);
                    }
                }
            }
            Some("content_block_start") => {
                if let Some(cb) = &mut ev.content_block {
                    self.start_block(ev.index, cb);
                }
            }
            Some("content_block_delta") => {
                if let Some(d) = &ev.delta {
                    self.apply_delta(ev.index, d);
                }
            }
            Some("message_delta") => {
                if let Some(d) = &ev.delta {
                    set_latest(&mut self.choice.finish_reason, &d.stop_reason);
                    // The stop reason comes with the final usage: everything that matters
                    // has been said (clients such as rig stop reading here, before
                    // `message_stop`).
                    self.done |= d.stop_reason.as_deref().is_some_and(|r| !r.is_empty());
                }
                if let Some(u) = &ev.usage {
                    self.usage(u);
                }
            }
            Some("message") => {
                // A whole message (plain body).
                self.message(&ev.id, &ev.model, &ev.role);
                set_latest(&mut self.choice.finish_reason, &ev.stop_reason);
                if let Some(u) = &ev.usage {
                    self.usage(u);
                }
                std::mem::take(&mut ev.content).open(self);
            }
            _ => {}
        }
    }
}

/// The output block a `content_block_start` (or a body's content block) opens.
fn new_block<I: ToolInput, T: TextField>(cb: &mut ContentBlock<'_, I, T>) -> Option<Block> {
    match cb.kind.as_deref()? {
        "text" => Some(Block::Text(
            std::mem::take(&mut cb.text)
                .into_string()
                .unwrap_or_default(),
        )),
        "thinking" => Some(Block::Reasoning(
            std::mem::take(&mut cb.thinking)
                .into_string()
                .unwrap_or_default(),
        )),
        "tool_use" | "server_tool_use" => Some(Block::Tool(ToolAcc {
            id: cb.id.0.take().map(Cow::into_owned),
            name: cb.name.0.take().map(Cow::into_owned).unwrap_or_default(),
            arguments: String::new(),
            // The start event's `{}` is replaced by the streamed deltas, if any.
            value: std::mem::take(&mut cb.input).into_value(),
        })),
        _ => None,
    }
}

impl ResponseDecoder for AnthropicDecoder {
    fn on_event(&mut self, event: Option<&str>, data: &[u8]) {
        // Nearly every event of a stream is a `content_block_delta`, which the SSE event
        // line names: read only its three fields (the general event has a dozen, and
        // matching and moving them cost as much as the rest of the decode). The JSON's
        // own `type` decides; anything else takes the general path.
        if event == Some("content_block_delta") {
            #[derive(Deserialize)]
            struct DeltaEvent<'a> {
                #[serde(default, borrow, rename = "type")]
                kind: Str<'a>,
                #[serde(default)]
                index: Int,
                #[serde(default, borrow)]
                delta: Option<Delta<'a>>,
            }
            if let Some(ev) = super::common::decode_object::<DeltaEvent<'_>>(data) {
                if ev.kind.as_deref() == Some("content_block_delta") {
                    if let Some(d) = &ev.delta {
                        self.apply_delta(ev.index, d);
                    }
                    return;
                }
            }
        }
        if let Some(mut ev) = super::common::decode_object::<Event<'_>>(data) {
            self.apply(&mut ev);
        }
    }

    fn on_body(&mut self, body: &[u8]) {
        // One pass, tool inputs parsed in place and texts unescaped by serde_json. Where
        // that fails on anything but the body's end (a tool input with a number beyond
        // `f64` or nested past serde_json's depth limit, which the general path keeps as
        // `{}`; a text with a lone surrogate), the general path decides.
        type OnePass<'a> = Event<'a, BodyContent<Option<Value>, Str<'a>>>;
        match super::common::try_decode_object::<OnePass<'_>>(body) {
            Ok(mut ev) => self.apply(&mut ev),
            // Not an object, or cut short: the general path fails alike.
            Err(None) => {}
            Err(Some(e)) if e.is_eof() => {}
            Err(Some(_)) => {
                type General<'a> = Event<'a, BodyContent<Option<&'a RawValue>, Text<'a>>>;
                if let Some(mut ev) = super::common::decode_object::<General<'_>>(body) {
                    self.apply(&mut ev);
                }
            }
        }
    }

    fn on_body_head(&mut self, body: &[u8]) {
        // Everything but the content blocks (the answer's text and tool inputs: most of
        // the bytes), which are skipped unbuilt.
        if let Some(mut ev) = super::common::decode_head_object::<Event<'_, IgnoredAny>>(body) {
            self.apply(&mut ev);
        }
    }

    fn finish(&mut self) -> Generation {
        let mut this = std::mem::take(self);
        this.choice.blocks = std::mem::take(&mut this.blocks);
        let cached = this
            .cache_read
            .unwrap_or(0)
            .saturating_add(this.cache_creation.unwrap_or(0));
        let input = match (this.input, this.cache_read, this.cache_creation) {
            (None, None, None) => None,
            (i, _, _) => Some(i.unwrap_or(0).saturating_add(cached)),
        };
        Generation {
            response_id: this.id,
            response_model: this.model,
            choices: this.choice.into_message().into_iter().collect(),
            usage: TokenUsage {
                input_tokens: input,
                output_tokens: this.output,
                cache_read_input_tokens: this.cache_read,
                cache_creation_input_tokens: this.cache_creation,
                reasoning_output_tokens: None,
            },
            error: this.error,
            embeddings: None,
            ..Generation::default()
        }
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn end_marker(&self) -> Option<&'static [u8]> {
        Some(b"\nevent: message_stop")
    }

    fn text_since(&self, offset: usize, out: &mut String) -> usize {
        super::common::text_since(&self.blocks, offset, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `on_body` (one pass, tool inputs parsed in place, the general path where that
    /// fails) against `on_event` on the same bytes: the general path alone (content
    /// blocks listed, each opened by `start_block`, tool inputs parsed on their own),
    /// which is how a plain body was decoded before the one-pass path.
    fn both(bodies: &[&[u8]]) -> (Generation, Generation) {
        let (mut fast, mut general) = (AnthropicDecoder::default(), AnthropicDecoder::default());
        for b in bodies {
            fast.on_body(b);
            general.on_event(None, b);
        }
        let mut text = (String::new(), String::new());
        fast.text_since(0, &mut text.0);
        general.text_since(0, &mut text.1);
        assert_eq!(text.0, text.1);
        (fast.finish(), general.finish())
    }

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/tests/fixtures/anthropic/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn a_plain_body_decodes_as_the_general_path_does() {
        let deep = format!(
            r#"{{"type":"message","content":[{{"type":"tool_use","id":"t","name":"n","input":{}1{}}}]}}"#,
            "[".repeat(126),
            "]".repeat(126)
        );
        let mut bodies: Vec<Vec<u8>> = [
            "message_basic.json",
            "message_cache_usage.json",
            "message_tool_use.json",
            "error_not_found.json",
        ]
        .iter()
        .map(|f| fixture(f))
        .collect();
        let tool = fixture("message_tool_use.json");
        bodies.push(tool[..tool.len() / 2].to_vec());
        bodies.extend(
            [
                // A number beyond f64 in a tool input: the one pass fails, the general
                // path keeps the call with `{}` arguments.
                r#"{"type":"message","id":"m","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"n","input":{"x":1e400}}]}"#,
                // Nested past serde_json's depth limit inside the body.
                &deep,
                // Blocks that are no output between output blocks; escapes; thinking.
                r#"{"type":"message","role":"assistant","stop_reason":"end_turn","content":[{"type":"web_search_tool_result","content":[]},{"type":"thinking","thinking":"hm\n"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"a\"b\u00e9\ud83d\ude00"},{"type":"server_tool_use","id":"s","name":"web_search","input":{"q":[1,2.5,null,true,"\u00e9"]}}]}"#,
                r#"{"type":"message","content":[{"type":"text","text":"a\ud800b"},{"type":"text","text":"\udc00\ud800\ud800\u0041"}]}"#,
                r#"{"type":"message","content":[{"type":"thinking","thinking":"\ud83d\ude00 \\ \/ \b\f\n\r\t"}]}"#,
                r#"{"type":"message","content":null}"#,
                r#"{"type":"message","content":"text"}"#,
                r#"{"type":"message","content":{"type":"text","text":"a"}}"#,
                r#"{"type":"message","content":[]}"#,
                r#"{"type":"message","content":[["text","by position"]]}"#,
                r#"{"type":"message","content":[{"type":"text","text":"a"},7]}"#,
                r#"{"type":"message","content":[{"type":"tool_use","input":null},{"type":"tool_use"}]}"#,
                r#"{"type":"message","content":[{"type":"text","text":1}]}"#,
                r#"{"type":"message","id":"a","id":"b","content":[]}"#,
                r#"{"type":"message","content":[{"type":"text","text":"a","text":"b"}]}"#,
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}"#,
                r#"{"type":"message","usage":{"input_tokens":"12","cache_read_input_tokens":1.5},"content":[{"type":"text","text":"x"}]} "#,
                r#"{"type":"message","content":[{"type":"text","text":"x"}]} trailing"#,
                "[1,2]",
                "",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec()),
        );
        // Not UTF-8 inside a string.
        bodies.push(
            b"{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"\xff\"}]}".to_vec(),
        );
        for body in &bodies {
            let (fast, general) = both(&[body]);
            assert_eq!(fast, general, "{}", String::from_utf8_lossy(body));
        }
        // The cases where the two paths differ from plain decoding, checked for what
        // they give: the general path's `{}` for an input that is no `Value`.
        let (fast, _) = both(&[bodies[5].as_slice()]);
        let parts = &fast.choices[0].parts;
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert!(
            matches!(&parts[1], Part::ToolCall { arguments, .. } if arguments == &serde_json::json!({})),
            "{parts:?}"
        );
        // A second body over the first: its output blocks replace theirs by index.
        let (a, b) = (
            br#"{"type":"message","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}"#,
            br#"{"type":"message","content":[{"type":"other"},{"type":"text","text":"c"},{"type":"text","text":"d"}]}"#,
        );
        let (fast, general) = both(&[a, b]);
        assert_eq!(fast, general);
        assert_eq!(fast.choices[0].parts.len(), 3);
    }
}
