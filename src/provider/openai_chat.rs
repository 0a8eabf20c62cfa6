//! OpenAI Chat Completions (`POST …/chat/completions`), also Azure OpenAI deployments
//! and every OpenAI-compatible server (vLLM, Ollama, Groq, Together, Mistral, DeepSeek,
//! OpenRouter, LiteLLM, …), recognised by path on any host.
//!
//! Refusals (`message.refusal`, `delta.refusal`) are recorded as a text part, after any
//! content of the choice: the GenAI parts format has no refusal part, and a refusal is
//! what the model said. `reasoning_content` (DeepSeek, vLLM) and `reasoning` (OpenRouter,
//! Ollama) become a reasoning part.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::common::{
    nested_field, normalise_role, parse_object, set_latest, set_once, string_list, url_part,
    value_f64, value_i64, value_str, Checked, Choices, ErrorObject, Int, List, Scalar, Str,
    StrList, Text, ToolAcc, MAX_CHOICES, MAX_ITEMS,
};
use super::{
    path_of, Codec, Generation, LlmRequest, Message, Operation, Part, ProviderError, RequestHead,
    RequestParams, ResponseDecoder, TokenUsage,
};

/// The Chat Completions codec (`openai.chat`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAiChat;

impl Codec for OpenAiChat {
    fn id(&self) -> &'static str {
        "openai.chat"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        (head.method == http::Method::POST && path_of(head).ends_with("/chat/completions"))
            .then_some(Operation::Chat)
    }

    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        super::openai_provider_name(head)
    }

    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let mut req = decode_chat_request(body, &[]);
        if req.model.is_none() {
            req.model = super::azure_deployment(head).map(str::to_owned);
        }
        req
    }

    fn decode_request_head(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let mut req = decode_chat_head(body);
        if req.model.is_none() {
            req.model = super::azure_deployment(head).map(str::to_owned);
        }
        req
    }

    fn response_decoder(&self, request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(ChatDecoder::expecting(request))
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        super::common::decode_error_envelope(body)
    }
}

/// Decodes a Chat Completions request body (best effort), without the fields in `skip`.
pub(crate) fn decode_chat_request(body: &[u8], skip: &[&str]) -> LlmRequest {
    let mut req = LlmRequest::empty(Operation::Chat);
    let Some(v) = parse_object(body, skip) else {
        return req;
    };
    req.model = value_str(v.get("model"));
    req.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    req.user = value_str(v.get("user")).or_else(|| value_str(v.get("safety_identifier")));
    req.params = RequestParams {
        temperature: value_f64(v.get("temperature")),
        top_p: value_f64(v.get("top_p")),
        top_k: value_f64(v.get("top_k")),
        max_tokens: value_i64(v.get("max_completion_tokens"))
            .or_else(|| value_i64(v.get("max_tokens"))),
        frequency_penalty: value_f64(v.get("frequency_penalty")),
        presence_penalty: value_f64(v.get("presence_penalty")),
        seed: value_i64(v.get("seed")),
        stop_sequences: string_list(v.get("stop")),
        choice_count: value_i64(v.get("n")),
        output_type: output_type(&v),
        include_usage: v
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool),
        response_format: None,
        service_tier: value_str(v.get("service_tier")),
    };
    if let Some(Value::Array(msgs)) = v.get("messages") {
        req.messages = msgs.iter().filter_map(chat_message).collect();
    }
    if let Some(Value::Array(tools)) = v.get("tools").or_else(|| v.get("functions")) {
        req.tools = tools.clone();
    }
    req
}

/// The head of a Chat Completions request (what [`decode_chat_request`] gives without
/// the content fields), decoded typed: no tree, no key allocated, content skipped.
pub(crate) fn decode_chat_head(body: &[u8]) -> LlmRequest {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};

    #[derive(Default)]
    struct Head<'a> {
        model: Scalar<'a>,
        stream: Scalar<'a>,
        user: Scalar<'a>,
        safety_identifier: Scalar<'a>,
        temperature: Scalar<'a>,
        top_p: Scalar<'a>,
        top_k: Scalar<'a>,
        max_completion_tokens: Scalar<'a>,
        max_tokens: Scalar<'a>,
        frequency_penalty: Scalar<'a>,
        presence_penalty: Scalar<'a>,
        seed: Scalar<'a>,
        stop: StrList,
        n: Scalar<'a>,
        format_type: Option<Scalar<'a>>,
        audio: bool,
        include_usage: Option<Scalar<'a>>,
        service_tier: Scalar<'a>,
    }

    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Head<'de>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
            let mut h = Head::default();
            while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                let slot = match key.as_deref().unwrap_or_default() {
                    "model" => &mut h.model,
                    "stream" => &mut h.stream,
                    "user" => &mut h.user,
                    "safety_identifier" => &mut h.safety_identifier,
                    "temperature" => &mut h.temperature,
                    "top_p" => &mut h.top_p,
                    "top_k" => &mut h.top_k,
                    "max_completion_tokens" => &mut h.max_completion_tokens,
                    "max_tokens" => &mut h.max_tokens,
                    "frequency_penalty" => &mut h.frequency_penalty,
                    "presence_penalty" => &mut h.presence_penalty,
                    "seed" => &mut h.seed,
                    "n" => &mut h.n,
                    "service_tier" => &mut h.service_tier,
                    "stop" => {
                        h.stop = map.next_value()?;
                        continue;
                    }
                    "response_format" => {
                        h.format_type = nested_field(&mut map, "type")?;
                        continue;
                    }
                    "stream_options" => {
                        h.include_usage = nested_field(&mut map, "include_usage")?;
                        continue;
                    }
                    "modalities" => {
                        let list = map.next_value::<StrList>()?;
                        h.audio = list.1 && list.0.iter().any(|m| m == "audio");
                        continue;
                    }
                    "messages" | "tools" | "functions" => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    _ => {
                        map.next_value::<Checked>()?;
                        continue;
                    }
                };
                *slot = map.next_value()?;
            }
            Ok(h)
        }
    }

    let mut req = LlmRequest::empty(Operation::Chat);
    let mut de = serde_json::Deserializer::from_slice(body);
    let Ok(h) = de.deserialize_map(V) else {
        return req;
    };
    if de.end().is_err() {
        return req;
    }
    let output_type = match h.format_type.as_ref().and_then(Scalar::as_str) {
        Some("json_object" | "json_schema") => Some("json".into()),
        Some("text") => Some("text".into()),
        _ => h.audio.then(|| "speech".into()),
    };
    req.model = h.model.string();
    req.stream = h.stream.bool().unwrap_or(false);
    req.user = h.user.string().or_else(|| h.safety_identifier.string());
    req.params = RequestParams {
        temperature: h.temperature.f64(),
        top_p: h.top_p.f64(),
        top_k: h.top_k.f64(),
        max_tokens: h.max_completion_tokens.i64().or_else(|| h.max_tokens.i64()),
        frequency_penalty: h.frequency_penalty.f64(),
        presence_penalty: h.presence_penalty.f64(),
        seed: h.seed.i64(),
        stop_sequences: h.stop.0,
        choice_count: h.n.i64(),
        output_type,
        include_usage: h.include_usage.as_ref().and_then(Scalar::bool),
        response_format: None,
        service_tier: h.service_tier.string(),
    };
    req
}

fn output_type(v: &serde_json::Map<String, Value>) -> Option<String> {
    let kind = v
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str);
    match kind {
        Some("json_object" | "json_schema") => Some("json".into()),
        Some("text") => Some("text".into()),
        _ => {
            let audio = v
                .get("modalities")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|x| x == "audio"));
            audio.then(|| "speech".into())
        }
    }
}

/// One request message in the parts format.
fn chat_message(m: &Value) -> Option<Message> {
    let obj = m.as_object()?;
    let role = normalise_role(obj.get("role").and_then(Value::as_str).unwrap_or("user"));
    let mut parts = Vec::new();
    if role == "tool" {
        let response = match obj.get("content") {
            Some(Value::Array(a)) => Value::String(join_text_parts(a)),
            Some(c) => c.clone(),
            None => Value::Null,
        };
        parts.push(Part::ToolCallResponse {
            id: value_str(obj.get("tool_call_id")),
            response,
        });
    } else {
        match obj.get("content") {
            Some(Value::String(s)) => parts.push(Part::Text { content: s.clone() }),
            Some(Value::Array(a)) => parts.extend(a.iter().filter_map(content_part)),
            _ => {}
        }
        if let Some(Value::String(r)) = obj.get("refusal") {
            parts.push(Part::Text { content: r.clone() });
        }
        for key in ["reasoning_content", "reasoning"] {
            if let Some(Value::String(r)) = obj.get(key) {
                parts.insert(0, Part::Reasoning { content: r.clone() });
            }
        }
        if let Some(Value::Array(calls)) = obj.get("tool_calls") {
            for c in calls {
                let f = c.get("function");
                parts.push(Part::ToolCall {
                    id: value_str(c.get("id")),
                    name: value_str(f.and_then(|f| f.get("name"))).unwrap_or_default(),
                    arguments: request_arguments(f.and_then(|f| f.get("arguments"))),
                });
            }
        }
        if let Some(f) = obj.get("function_call").filter(|f| f.is_object()) {
            parts.push(Part::ToolCall {
                id: None,
                name: value_str(f.get("name")).unwrap_or_default(),
                arguments: request_arguments(f.get("arguments")),
            });
        }
    }
    Some(Message {
        role,
        parts,
        name: value_str(obj.get("name")),
        finish_reason: None,
    })
}

fn join_text_parts(a: &[Value]) -> String {
    let mut out = String::new();
    for p in a {
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            out.push_str(t);
        }
    }
    out
}

/// Arguments as sent: a JSON string holding JSON, parsed when it parses.
pub(crate) fn request_arguments(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) => super::common::arguments_value(s.clone()),
        Some(v) => v.clone(),
        None => Value::Object(Default::default()),
    }
}

/// A content part of a Chat Completions message.
fn content_part(p: &Value) -> Option<Part> {
    match p.get("type").and_then(Value::as_str)? {
        "text" | "input_text" => Some(Part::Text {
            content: value_str(p.get("text"))?,
        }),
        "refusal" => Some(Part::Text {
            content: value_str(p.get("refusal"))?,
        }),
        "image_url" => {
            let url = p.get("image_url")?;
            let url = url.get("url").unwrap_or(url).as_str()?;
            Some(url_part(url, "image"))
        }
        "input_audio" => {
            let a = p.get("input_audio")?;
            Some(Part::Blob {
                mime_type: value_str(a.get("format")).map(|f| format!("audio/{f}")),
                modality: "audio".into(),
                content: value_str(a.get("data"))?,
            })
        }
        "file" => {
            let f = p.get("file")?;
            if let Some(data) = f.get("file_data").and_then(Value::as_str) {
                Some(url_part(data, "file"))
            } else {
                Some(Part::Uri {
                    uri: value_str(f.get("file_id"))?,
                    modality: "file".into(),
                })
            }
        }
        _ => None,
    }
}

// ---- responses ----------------------------------------------------------------------

/// A chat completion or one chunk of its stream (`message` in a body, `delta` in a chunk).
/// `C` is how a choice is read: whole, or its head only ([`BodyHead`]).
#[derive(Deserialize, Default)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
struct Chunk<'a, C = ChoiceChunk<'a>> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    model: Str<'a>,
    choices: List<C>,
    /// Boxed like the rare fields below: usage comes once, in the last chunk, and inline it
    /// was a fifth of every chunk's size.
    usage: Option<Box<Usage>>,
    /// `openai.response.system_fingerprint`, `openai.response.service_tier`.
    #[serde(borrow)]
    system_fingerprint: Str<'a>,
    #[serde(borrow)]
    service_tier: Str<'a>,
    /// Rare fields are boxed so that every chunk does not move them around.
    #[serde(borrow)]
    error: Option<Box<ErrorObject<'a>>>,
    /// Groq puts the stream's usage here, in the last chunk.
    x_groq: Option<Box<XGroq>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct XGroq {
    usage: Option<Usage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChoiceChunk<'a> {
    index: Int,
    #[serde(borrow, alias = "delta")]
    message: Option<Delta<'a>>,
    #[serde(borrow)]
    finish_reason: Str<'a>,
    /// Legacy completions: the text of the choice.
    #[serde(borrow)]
    text: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Delta<'a> {
    #[serde(borrow)]
    role: Str<'a>,
    #[serde(borrow)]
    content: Text<'a>,
    #[serde(borrow)]
    refusal: Text<'a>,
    #[serde(borrow)]
    reasoning_content: Text<'a>,
    #[serde(borrow)]
    reasoning: Text<'a>,
    #[serde(borrow)]
    tool_calls: List<ToolCallChunk<'a>>,
    /// The legacy single function call: rare, so boxed out of every delta.
    #[serde(borrow)]
    function_call: Option<Box<FunctionChunk<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ToolCallChunk<'a> {
    index: Int,
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    function: Option<FunctionChunk<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FunctionChunk<'a> {
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    arguments: Text<'a>,
}

/// A chat completion without its content: what the span needs (`on_body_head`). The
/// fields left out are skipped by the parser, never built.
type BodyHead<'a> = Chunk<'a, ChoiceHead<'a>>;

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChoiceHead<'a> {
    index: Int,
    #[serde(borrow)]
    message: Option<RoleHead<'a>>,
    #[serde(borrow)]
    finish_reason: Str<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleHead<'a> {
    #[serde(borrow)]
    role: Str<'a>,
}

/// OpenAI usage, Chat Completions and Responses spellings.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Usage {
    #[serde(alias = "input_tokens")]
    prompt_tokens: Int,
    #[serde(alias = "output_tokens")]
    completion_tokens: Int,
    #[serde(alias = "input_tokens_details")]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(alias = "output_tokens_details")]
    completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek reports its cache hits here.
    prompt_cache_hit_tokens: Int,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PromptDetails {
    cached_tokens: Int,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CompletionDetails {
    reasoning_tokens: Int,
}

impl Usage {
    /// OpenAI's counts are already normalised: prompt tokens include cached ones,
    /// completion tokens include reasoning ones.
    pub(crate) fn to_usage(&self) -> TokenUsage {
        TokenUsage {
            input_tokens: self.prompt_tokens.0,
            output_tokens: self.completion_tokens.0,
            cache_read_input_tokens: self
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens.0)
                .or(self.prompt_cache_hit_tokens.0),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: self
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens.0),
        }
    }
}

/// Response decoder for Chat Completions and legacy Completions (bodies and streams).
#[derive(Debug, Default)]
pub struct ChatDecoder {
    id: Option<String>,
    model: Option<String>,
    choices: Choices,
    usage: TokenUsage,
    error: Option<ProviderError>,
    system_fingerprint: Option<String>,
    service_tier: Option<String>,
    /// `data: [DONE]` arrived.
    done: bool,
    /// For a stream whose request was decoded: how many choices end it.
    expect: Option<usize>,
    usage_seen: bool,
}

impl ChatDecoder {
    /// A decoder that also knows when the stream of `request` has said everything that
    /// matters: every requested choice has its finish reason and the usage arrived. A
    /// client may stop reading there, before `[DONE]`, without the call counting as
    /// cancelled. Usage is waited for even without `stream_options.include_usage`, since
    /// compatible servers send it unasked; a stream without usage ends at `[DONE]`, as
    /// does one whose request was not decoded (it reads as not streaming).
    pub fn expecting(request: &LlmRequest) -> Self {
        Self {
            expect: super::common::expected_choices(request),
            ..Self::default()
        }
    }

    fn said_everything(&self) -> bool {
        self.expect
            .is_some_and(|n| self.usage_seen && self.choices.finished() >= n)
    }

    /// What a chunk says besides its choices.
    fn apply_common<C>(&mut self, chunk: &Chunk<'_, C>) {
        set_once(&mut self.id, &chunk.id);
        set_once(&mut self.model, &chunk.model);
        let groq = chunk.x_groq.as_ref().and_then(|x| x.usage.as_ref());
        if let Some(u) = chunk.usage.as_deref().or(groq) {
            self.usage = u.to_usage();
            self.usage_seen = true;
        }
        if let Some(e) = &chunk.error {
            self.error = Some(e.to_error());
        }
        set_once(&mut self.system_fingerprint, &chunk.system_fingerprint);
        set_latest(&mut self.service_tier, &chunk.service_tier);
    }

    /// The choice at `index` (its position when absent), `None` past the cap.
    fn choice(&mut self, index: Int, pos: usize) -> Option<&mut super::common::ChoiceAcc> {
        let index = match index.0 {
            Some(_) => index.index(MAX_CHOICES),
            None => Some(pos),
        };
        self.choices.at(index?)
    }

    fn apply_head(&mut self, head: BodyHead<'_>) {
        self.apply_common(&head);
        for (pos, c) in head.choices.into_iter().enumerate() {
            let Some(acc) = self.choice(c.index, pos) else {
                continue;
            };
            set_latest(&mut acc.finish_reason, &c.finish_reason);
            if let Some(m) = &c.message {
                set_once(&mut acc.role, &m.role);
            }
        }
    }

    fn apply(&mut self, chunk: Chunk<'_>) {
        self.apply_common(&chunk);
        for (pos, c) in chunk.choices.into_iter().enumerate() {
            let Some(acc) = self.choice(c.index, pos) else {
                continue;
            };
            set_latest(&mut acc.finish_reason, &c.finish_reason);
            acc.append_text(&c.text);
            let Some(d) = c.message else { continue };
            set_once(&mut acc.role, &d.role);
            if d.reasoning_content.is_some() {
                acc.append_reasoning(&d.reasoning_content);
            } else {
                acc.append_reasoning(&d.reasoning);
            }
            acc.append_text(&d.content);
            d.refusal.append_to(&mut acc.refusal);
            for (tpos, tc) in d.tool_calls.into_iter().enumerate() {
                let slot = match tc.index.0 {
                    Some(_) => tc.index.index(MAX_ITEMS),
                    None => Some(tpos),
                };
                let Some(tool) = slot.and_then(|s| acc.tool(s)) else {
                    continue;
                };
                set_once(&mut tool.id, &tc.id);
                if let Some(f) = tc.function {
                    push_function(tool, &f);
                }
            }
            if let Some(f) = d.function_call {
                if let Some(tool) = acc.tool(0) {
                    push_function(tool, &f);
                }
            }
        }
    }
}

fn push_function(tool: &mut ToolAcc, f: &FunctionChunk<'_>) {
    // Names arrive whole (some servers repeat them in every fragment).
    if let (true, Some(n)) = (tool.name.is_empty(), f.name.as_deref()) {
        tool.name.push_str(n);
    }
    f.arguments.append_to(&mut tool.arguments);
}

impl ResponseDecoder for ChatDecoder {
    fn on_event(&mut self, _event: Option<&str>, data: &[u8]) {
        match super::common::decode_object::<Chunk<'_>>(data) {
            Some(chunk) => self.apply(chunk),
            None => self.done |= data.trim_ascii() == b"[DONE]",
        }
    }

    fn on_body(&mut self, body: &[u8]) {
        self.on_event(None, body);
    }

    fn on_body_head(&mut self, body: &[u8]) {
        if let Some(head) = super::common::decode_head_object::<BodyHead<'_>>(body) {
            self.apply_head(head);
        }
    }

    fn finish(&mut self) -> Generation {
        let this = std::mem::take(self);
        Generation {
            response_id: this.id,
            response_model: this.model,
            choices: this.choices.into_messages(),
            usage: this.usage,
            error: this.error,
            embeddings: None,
            service_tier: this.service_tier,
            system_fingerprint: this.system_fingerprint,
            ..Generation::default()
        }
    }

    fn is_complete(&self) -> bool {
        self.done || self.said_everything()
    }

    fn end_marker(&self) -> Option<&'static [u8]> {
        Some(b"\ndata: [DONE]")
    }

    fn text_since(&self, offset: usize, out: &mut String) -> usize {
        self.choices
            .0
            .first()
            .map_or(0, |c| super::common::text_since(&c.blocks, offset, out))
    }
}
