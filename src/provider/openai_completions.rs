//! OpenAI legacy Completions (`POST …/v1/completions`, operation `text_completion`) and
//! Embeddings (`POST …/v1/embeddings`, operation `embeddings`), also on Azure
//! deployments and OpenAI-compatible servers.
//!
//! Completions responses share the chat decoder (their choices carry `text`).
//! Embeddings keep only the number of vectors returned, never the vectors.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{string_list, value_f64, value_i64, value_str, Count, Int, Str};
use super::openai_chat::ChatDecoder;
use super::{
    path_of, Codec, Generation, LlmRequest, Message, Operation, Part, ProviderError, RequestHead,
    RequestParams, ResponseDecoder, TokenUsage,
};

/// The legacy Completions codec (`openai.completions`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAiCompletions;

impl Codec for OpenAiCompletions {
    fn id(&self) -> &'static str {
        "openai.completions"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        let path = path_of(head);
        (head.method == http::Method::POST
            && path.ends_with("/completions")
            && !path.ends_with("/chat/completions"))
        .then_some(Operation::TextCompletion)
    }

    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        super::openai_provider_name(head)
    }

    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let mut req = LlmRequest::empty(Operation::TextCompletion);
        let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(body) else {
            return req;
        };
        req.model =
            value_str(v.get("model")).or_else(|| super::azure_deployment(head).map(str::to_owned));
        req.stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
        req.user = value_str(v.get("user"));
        req.params = RequestParams {
            temperature: value_f64(v.get("temperature")),
            top_p: value_f64(v.get("top_p")),
            max_tokens: value_i64(v.get("max_tokens")),
            frequency_penalty: value_f64(v.get("frequency_penalty")),
            presence_penalty: value_f64(v.get("presence_penalty")),
            seed: value_i64(v.get("seed")),
            stop_sequences: string_list(v.get("stop")),
            choice_count: value_i64(v.get("n")),
            include_usage: v
                .get("stream_options")
                .and_then(|o| o.get("include_usage"))
                .and_then(Value::as_bool),
            ..RequestParams::default()
        };
        // A prompt is a string, a list of strings, or token ids (kept as JSON text).
        let prompts: Vec<String> = match v.get("prompt") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Some(other @ Value::Array(_)) => vec![other.to_string()],
            _ => Vec::new(),
        };
        if !prompts.is_empty() {
            req.messages.push(Message {
                role: "user".into(),
                parts: prompts
                    .into_iter()
                    .map(|content| Part::Text { content })
                    .collect(),
                name: None,
                finish_reason: None,
            });
        }
        if let Some(Value::String(s)) = v.get("suffix") {
            req.params.response_format = Some(json!({ "suffix": s }));
        }
        req
    }

    fn response_decoder(&self, _request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(ChatDecoder::default())
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        super::common::decode_error_envelope(body)
    }
}

/// The Embeddings codec (`openai.embeddings`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenAiEmbeddings;

impl Codec for OpenAiEmbeddings {
    fn id(&self) -> &'static str {
        "openai.embeddings"
    }

    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        (head.method == http::Method::POST && path_of(head).ends_with("/embeddings"))
            .then_some(Operation::Embeddings)
    }

    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        super::openai_provider_name(head)
    }

    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        let mut req = LlmRequest::empty(Operation::Embeddings);
        let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(body) else {
            return req;
        };
        req.model =
            value_str(v.get("model")).or_else(|| super::azure_deployment(head).map(str::to_owned));
        req.user = value_str(v.get("user"));
        // Inputs are recorded as text (token-id inputs as their JSON text), so the log
        // shows what was embedded; the vectors that come back are never kept.
        let inputs: Vec<String> = match v.get("input") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Some(other @ Value::Array(_)) => vec![other.to_string()],
            _ => Vec::new(),
        };
        if !inputs.is_empty() {
            req.messages.push(Message {
                role: "user".into(),
                parts: inputs
                    .into_iter()
                    .map(|content| Part::Text { content })
                    .collect(),
                name: None,
                finish_reason: None,
            });
        }
        let mut format = serde_json::Map::new();
        for key in ["encoding_format", "dimensions"] {
            if let Some(x) = v.get(key) {
                format.insert(key.into(), x.clone());
            }
        }
        if !format.is_empty() {
            req.params.response_format = Some(Value::Object(format));
        }
        req
    }

    fn response_decoder(&self, _request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(EmbeddingsDecoder::default())
    }

    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        super::common::decode_error_envelope(body)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmbeddingsBody<'a> {
    #[serde(borrow)]
    model: Str<'a>,
    /// Counted, never kept.
    data: Count,
    usage: Option<EmbeddingsUsage>,
    #[serde(borrow)]
    error: Option<super::common::ErrorObject<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmbeddingsUsage {
    prompt_tokens: Int,
}

/// Response decoder for Embeddings: model, usage and the number of vectors.
#[derive(Debug, Default)]
pub struct EmbeddingsDecoder {
    generation: Generation,
}

impl ResponseDecoder for EmbeddingsDecoder {
    fn on_event(&mut self, _event: Option<&str>, _data: &[u8]) {
        // Embeddings are never streamed.
    }

    fn on_body(&mut self, body: &[u8]) {
        let Some(b) = super::common::decode_object::<EmbeddingsBody<'_>>(body) else {
            return;
        };
        let g = &mut self.generation;
        g.response_model = b.model.owned();
        g.embeddings = b.data.0;
        if let Some(u) = b.usage {
            g.usage = TokenUsage {
                input_tokens: u.prompt_tokens.0,
                ..TokenUsage::default()
            };
        }
        g.error = b.error.map(|e| e.to_error());
    }

    fn finish(&mut self) -> Generation {
        std::mem::take(&mut self.generation)
    }
}
