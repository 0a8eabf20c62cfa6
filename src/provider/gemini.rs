//! Google Gemini `generateContent` / `streamGenerateContent`, on the Gemini API
//! (`generativelanguage.googleapis.com`, provider `gcp.gemini`) and Vertex AI
//! (`*aiplatform.googleapis.com`, provider `gcp.vertex_ai`).
//!
//! The model comes from the path (`…/models/{model}:generateContent`). Streams are
//! `?alt=sse` events, each a whole `GenerateContentResponse` chunk; without `alt=sse` the
//! stream is one JSON array of chunks, which [`ResponseDecoder::on_body`] also accepts.
//!
//! Usage: `promptTokenCount` already includes cached tokens (`cachedContentTokenCount`,
//! recorded as cache reads); `thoughtsTokenCount` is the reasoning count, and output
//! tokens are `candidatesTokenCount + thoughtsTokenCount` (the conventions count
//! reasoning as output; Gemini does not).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::common::{
    set_latest, set_once, Block, Choices, ErrorObject, Int, List, Str, Text, ToolAcc, MAX_CHOICES,
    MAX_ITEMS,
};
use super::{
    path_of, ByModality, Codec, Generation, LlmRequest, Message, ModalityUsage, Operation, Part,
    ProviderError, RequestHead, RequestParams, ResponseDecoder, TokenUsage,
};

/// The Gemini codec (`gcp.gemini`), also serving Vertex AI.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gemini;

/// `(model, streaming)` of a `…/models/{model}:generateContent` path.
fn method_of(path: &str) -> Option<(&str, bool)> {
    let last = path.rsplit('/').next()?;
    let (model, method) = last.split_once(':')?;
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        _ => return None,
    };
    Some((model, stream))
}

impl Codec for Gemini {
    fn id(&self) -> &'static str {
        "gcp.gemini"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        if head.method != http::Method::POST {
            return None;
        }
        method_of(path_of(head)).map(|_| Operation::GenerateContent)
    }

    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        let host = head.uri.host().unwrap_or("");
        if host.contains("aiplatform.googleapis.com") {
            return Cow::Borrowed("gcp.vertex_ai");
        }
        Cow::Borrowed(super::hosts::provider_for_host(host).unwrap_or("gcp.gemini"))
    }

    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        with_url_fields(head, decode_request(body, &[]))
    }

    fn decode_request_head(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let skip = &[
            "contents",
            "systemInstruction",
            "system_instruction",
            "tools",
        ];
        with_url_fields(head, decode_request(body, skip))
    }

    fn response_decoder(&self, request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(GeminiDecoder::expecting(request))
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        // Errors may also come as a one-element array (streams without `alt=sse`).
        super::common::decode_error_envelope(body).or_else(|| {
            let v: Vec<&RawValue> = serde_json::from_slice(body).ok()?;
            super::common::decode_error_envelope(v.first()?.get().as_bytes())
        })
    }
}

/// The model and the stream flag, which Gemini takes from the URL.
fn with_url_fields(head: &RequestHead<'_>, mut req: LlmRequest) -> LlmRequest {
    if let Some((model, stream)) = method_of(path_of(head)) {
        if !model.is_empty() {
            req.model = Some(model.to_owned());
        }
        req.stream = stream;
    }
    req
}

/// A field under its JSON (camelCase) or proto (snake_case) name; the API accepts both.
fn field<'v>(o: &'v Value, camel: &str, snake: &str) -> Option<&'v Value> {
    o.get(camel).or_else(|| o.get(snake))
}

/// Decodes a generateContent request body (best effort), without the fields in `skip`.
fn decode_request(body: &[u8], skip: &[&str]) -> LlmRequest {
    let mut req = LlmRequest::empty(Operation::GenerateContent);
    let Some(v) = super::common::parse_object(body, skip).map(Value::Object) else {
        return req;
    };
    if let Some(cfg) = field(&v, "generationConfig", "generation_config") {
        let f = |c, s| field(cfg, c, s).and_then(Value::as_f64);
        let i = |c, s| super::common::value_i64(field(cfg, c, s));
        let mime = field(cfg, "responseMimeType", "response_mime_type").and_then(Value::as_str);
        req.params = RequestParams {
            temperature: f("temperature", "temperature"),
            top_p: f("topP", "top_p"),
            top_k: f("topK", "top_k"),
            max_tokens: i("maxOutputTokens", "max_output_tokens"),
            frequency_penalty: f("frequencyPenalty", "frequency_penalty"),
            presence_penalty: f("presencePenalty", "presence_penalty"),
            seed: i("seed", "seed"),
            stop_sequences: super::common::string_list(field(
                cfg,
                "stopSequences",
                "stop_sequences",
            )),
            choice_count: i("candidateCount", "candidate_count"),
            output_type: match mime {
                Some("application/json") => Some("json".into()),
                Some("text/plain") => Some("text".into()),
                _ => None,
            },
            ..RequestParams::default()
        };
    }
    if let Some(si) = field(&v, "systemInstruction", "system_instruction") {
        if let Some(Value::Array(parts)) = si.get("parts") {
            req.system = parts.iter().filter_map(request_part).collect();
        } else if let Some(s) = si.as_str() {
            req.system.push(Part::Text { content: s.into() });
        }
    }
    if let Some(Value::Array(contents)) = v.get("contents") {
        req.messages = contents
            .iter()
            .filter(|c| c.is_object())
            .map(|c| {
                let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
                let parts: Vec<Part> = match c.get("parts") {
                    Some(Value::Array(p)) => p.iter().filter_map(request_part).collect(),
                    _ => Vec::new(),
                };
                let all_responses = !parts.is_empty()
                    && parts
                        .iter()
                        .all(|p| matches!(p, Part::ToolCallResponse { .. }));
                Message {
                    role: if all_responses {
                        "tool".into()
                    } else {
                        super::common::normalise_role(role)
                    },
                    parts,
                    name: None,
                    finish_reason: None,
                }
            })
            .collect();
    }
    if let Some(Value::Array(tools)) = v.get("tools") {
        req.tools = tools.clone();
    }
    req
}

fn str_of(o: &Value, camel: &str, snake: &str) -> Option<String> {
    field(o, camel, snake)?.as_str().map(str::to_owned)
}

fn request_part(p: &Value) -> Option<Part> {
    if let Some(t) = p.get("text").and_then(Value::as_str) {
        let thought = p.get("thought").and_then(Value::as_bool).unwrap_or(false);
        return Some(if thought {
            Part::Reasoning { content: t.into() }
        } else {
            Part::Text { content: t.into() }
        });
    }
    if let Some(d) = field(p, "inlineData", "inline_data") {
        let mime = str_of(d, "mimeType", "mime_type");
        return Some(Part::Blob {
            modality: super::common::modality_of(mime.as_deref().unwrap_or("")).into(),
            mime_type: mime,
            content: str_of(d, "data", "data")?,
        });
    }
    if let Some(d) = field(p, "fileData", "file_data") {
        let mime = str_of(d, "mimeType", "mime_type");
        return Some(Part::Uri {
            modality: super::common::modality_of(mime.as_deref().unwrap_or("")).into(),
            uri: str_of(d, "fileUri", "file_uri")?,
        });
    }
    if let Some(c) = field(p, "functionCall", "function_call") {
        return Some(Part::ToolCall {
            id: str_of(c, "id", "id"),
            name: str_of(c, "name", "name").unwrap_or_default(),
            arguments: c
                .get("args")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
        });
    }
    if let Some(r) = field(p, "functionResponse", "function_response") {
        return Some(Part::ToolCallResponse {
            id: str_of(r, "id", "id").or_else(|| str_of(r, "name", "name")),
            response: r.get("response").cloned().unwrap_or(Value::Null),
        });
    }
    None
}

// ---- responses ----------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct Chunk<'a> {
    #[serde(borrow)]
    candidates: List<Candidate<'a>>,
    #[serde(rename = "usageMetadata", alias = "usage_metadata")]
    #[serde(borrow)]
    usage: Option<UsageMetadata<'a>>,
    #[serde(borrow, rename = "modelVersion", alias = "model_version")]
    model_version: Str<'a>,
    #[serde(borrow, rename = "responseId", alias = "response_id")]
    response_id: Str<'a>,
    #[serde(borrow)]
    error: Option<ErrorObject<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Candidate<'a> {
    #[serde(borrow)]
    content: Option<Content<'a>>,
    #[serde(borrow, rename = "finishReason", alias = "finish_reason")]
    finish_reason: Str<'a>,
    index: Int,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Content<'a> {
    #[serde(borrow)]
    role: Str<'a>,
    #[serde(borrow)]
    parts: List<GPart<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GPart<'a> {
    #[serde(borrow)]
    text: Text<'a>,
    thought: Option<bool>,
    #[serde(borrow, rename = "functionCall", alias = "function_call")]
    function_call: Option<FunctionCall<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FunctionCall<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    args: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct UsageMetadata<'a> {
    #[serde(alias = "prompt_token_count")]
    prompt_token_count: Int,
    #[serde(alias = "candidates_token_count")]
    candidates_token_count: Int,
    #[serde(alias = "thoughts_token_count")]
    thoughts_token_count: Int,
    #[serde(alias = "cached_content_token_count")]
    cached_content_token_count: Int,
    #[serde(borrow, alias = "prompt_tokens_details")]
    prompt_tokens_details: List<ModalityCount<'a>>,
    #[serde(borrow, alias = "candidates_tokens_details")]
    candidates_tokens_details: List<ModalityCount<'a>>,
    #[serde(borrow, alias = "cache_tokens_details")]
    cache_tokens_details: List<ModalityCount<'a>>,
}

/// One `{modality, tokenCount}` of a `*TokensDetails` list. Anything else reads as empty:
/// a malformed breakdown loses the breakdown only, never the chunk.
#[derive(Default)]
struct ModalityCount<'a> {
    modality: Str<'a>,
    token_count: Int,
}

impl<'de: 'a, 'a> Deserialize<'de> for ModalityCount<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModalityCount<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("anything")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = ModalityCount::default();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    match key.as_deref() {
                        Some("modality") => out.modality = map.next_value()?,
                        Some("tokenCount" | "token_count") => out.token_count = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ModalityCount::default())
            }
            fn visit_bool<E: Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ModalityCount::default())
            }
            fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ModalityCount::default())
            }
            fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ModalityCount::default())
            }
            fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ModalityCount::default())
            }
            fn visit_str<E: Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ModalityCount::default())
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(ModalityCount::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A `*TokensDetails` list as counts by modality.
fn by_modality(details: &List<ModalityCount<'_>>) -> ByModality {
    let mut out = ByModality::default();
    for d in details.iter() {
        if let (Some(m), Some(n)) = (d.modality.0.as_deref(), d.token_count.0) {
            out.add(m, n);
        }
    }
    out
}

/// Response decoder for Gemini (bodies, SSE chunks, and JSON arrays of chunks).
#[derive(Debug, Default)]
pub struct GeminiDecoder {
    id: Option<String>,
    model: Option<String>,
    choices: Choices,
    usage: TokenUsage,
    by_modality: ModalityUsage,
    error: Option<ProviderError>,
    /// For a stream whose request was decoded: how many candidates end it.
    expect: Option<usize>,
    /// A chunk with usage finished the last expected candidate.
    done: bool,
}

impl GeminiDecoder {
    /// A decoder that also knows when the stream of `request` has said everything that
    /// matters. Gemini streams have no end marker: the last chunk carries every
    /// candidate's `finishReason` with the final `usageMetadata`, and a client may drop
    /// the body there. For a request that was not decoded only the body's end ends it.
    pub fn expecting(request: &LlmRequest) -> Self {
        Self {
            expect: super::common::expected_choices(request),
            ..Self::default()
        }
    }

    fn apply(&mut self, chunk: &Chunk<'_>) {
        self.apply_chunk(chunk);
        if let (Some(n), Some(_)) = (self.expect, &chunk.usage) {
            self.done |= self.choices.finished() >= n;
        }
    }

    fn apply_chunk(&mut self, chunk: &Chunk<'_>) {
        set_once(&mut self.id, &chunk.response_id);
        set_once(&mut self.model, &chunk.model_version);
        if let Some(e) = &chunk.error {
            self.error = Some(e.to_error());
        }
        if let Some(u) = &chunk.usage {
            // Every chunk carries the running totals: the last one wins.
            let output = match (u.candidates_token_count.0, u.thoughts_token_count.0) {
                (None, None) => None,
                (c, t) => Some(c.unwrap_or(0).saturating_add(t.unwrap_or(0))),
            };
            self.usage = TokenUsage {
                input_tokens: u.prompt_token_count.0,
                output_tokens: output,
                cache_read_input_tokens: u.cached_content_token_count.0,
                cache_creation_input_tokens: None,
                reasoning_output_tokens: u.thoughts_token_count.0,
            };
            self.by_modality = ModalityUsage {
                input: by_modality(&u.prompt_tokens_details),
                output: by_modality(&u.candidates_tokens_details),
                cache_read: by_modality(&u.cache_tokens_details),
            };
        }
        for (pos, c) in chunk.candidates.iter().enumerate() {
            let index = match c.index.0 {
                Some(_) => c.index.index(MAX_CHOICES),
                None => Some(pos),
            };
            let Some(acc) = index.and_then(|i| self.choices.at(i)) else {
                continue;
            };
            set_latest(&mut acc.finish_reason, &c.finish_reason);
            let Some(content) = &c.content else { continue };
            set_once(&mut acc.role, &content.role);
            for p in content.parts.iter() {
                if let Some(fc) = &p.function_call {
                    if acc.blocks.len() < MAX_ITEMS {
                        acc.blocks.push(Block::Tool(ToolAcc {
                            id: fc.id.owned(),
                            name: fc.name.owned().unwrap_or_default(),
                            arguments: String::new(),
                            value: Some(
                                fc.args
                                    .and_then(|a| serde_json::from_str(a.get()).ok())
                                    .unwrap_or_else(|| Value::Object(Map::new())),
                            ),
                        }));
                    }
                } else if p.thought == Some(true) {
                    acc.append_reasoning(&p.text);
                } else {
                    acc.append_text(&p.text);
                }
            }
        }
    }
}

impl ResponseDecoder for GeminiDecoder {
    fn on_event(&mut self, _event: Option<&str>, data: &[u8]) {
        if let Some(chunk) = super::common::decode_object::<Chunk<'_>>(data) {
            self.apply(&chunk);
        }
    }

    fn on_body(&mut self, body: &[u8]) {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            // `streamGenerateContent` without `alt=sse`: a JSON array of chunks.
            if let Ok(chunks) = serde_json::from_slice::<List<Chunk<'_>>>(body) {
                for c in chunks.iter() {
                    self.apply(c);
                }
            }
        } else {
            self.on_event(None, body);
        }
    }

    fn finish(&mut self) -> Generation {
        let this = std::mem::take(self);
        Generation {
            response_id: this.id,
            response_model: this.model,
            choices: this.choices.into_messages(),
            usage: this.usage,
            usage_by_modality: this.by_modality,
            error: this.error,
            embeddings: None,
            ..Generation::default()
        }
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}
