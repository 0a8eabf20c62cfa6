//! Decoders never panic, whatever they are fed: arbitrary bytes, arbitrary JSON built
//! from the providers' own keys, truncated bodies, events out of order or repeated.

use std::sync::Arc;

use crate::harness::{codec::*, fixtures::*};
use humanloop_tracing::provider::{
    AnthropicMessages, Codec, Gemini, LlmRequest, OpenAiChat, OpenAiCompletions, OpenAiEmbeddings,
    OpenAiResponses, Operation, MAX_CHOICES,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn codecs() -> Vec<Arc<dyn Codec>> {
    vec![
        Arc::new(OpenAiChat),
        Arc::new(OpenAiResponses),
        Arc::new(OpenAiCompletions),
        Arc::new(OpenAiEmbeddings),
        Arc::new(AnthropicMessages),
        Arc::new(Gemini),
    ]
}

const URLS: &[&str] = &[
    "https://api.openai.com/v1/chat/completions",
    "https://api.openai.com/v1/responses",
    "https://api.openai.com/v1/completions",
    "https://api.openai.com/v1/embeddings",
    "https://api.anthropic.com/v1/messages",
    "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse",
];

/// Keys the codecs look at, so generated JSON reaches their inner paths.
const KEYS: &[&str] = &[
    "id",
    "model",
    "choices",
    "index",
    "delta",
    "message",
    "content",
    "role",
    "text",
    "refusal",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "finish_reason",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "type",
    "error",
    "code",
    "status",
    "output",
    "output_index",
    "item",
    "response",
    "content_block",
    "partial_json",
    "thinking",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "candidates",
    "parts",
    "functionCall",
    "args",
    "usageMetadata",
    "promptTokenCount",
    "thoughtsTokenCount",
    "data",
    "messages",
    "tools",
    "input",
    "system",
    "contents",
    "generationConfig",
    "stream",
    "n",
    "x_groq",
];

const TYPES: &[&str] = &[
    "message_start",
    "content_block_start",
    "content_block_delta",
    "message_delta",
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "tool_use",
    "text",
    "thinking",
    "message",
    "function_call",
    "reasoning",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.output_item.added",
    "response.output_item.done",
    "response.completed",
    "error",
    "image_url",
    "input_image",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(TYPES).prop_map(|s| Value::String(s.into())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.insert(k.to_owned(), v);
                }
                Value::Object(m)
            }),
        ]
    })
}

fn feed_all(data: &[u8]) {
    for (codec, url) in codecs().iter().zip(URLS) {
        let head = Head::post(url);
        let req = codec.decode_request(&head.head(), data);
        let _ = codec.decode_error(data);
        let mut d = codec.response_decoder(&req);
        d.on_body(data);
        d.on_event(None, data);
        d.on_event(Some("message_start"), data);
        let g = d.finish();
        assert!(g.choices.len() <= MAX_CHOICES);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        feed_all(&data);
    }

    #[test]
    fn arbitrary_provider_shaped_json_never_panics(v in json_value()) {
        feed_all(v.to_string().as_bytes());
    }

    #[test]
    fn truncated_fixtures_never_panic(cut in 0usize..4096, which in 0usize..6) {
        let files = [
            "openai/chat_tool_calls.json",
            "openai/responses_reasoning_function_call.json",
            "anthropic/message_tool_use.json",
            "gemini/generate_thinking_cached.json",
            "openai/embeddings_basic.json",
            "azure/chat_basic.json",
        ];
        let body = fixture(files[which]);
        feed_all(&body[..cut.min(body.len())]);
    }

    #[test]
    fn events_out_of_order_or_repeated_never_panic(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..64),
        which in 0usize..7,
    ) {
        let streams: [(&dyn Codec, &str); 7] = [
            (&OpenAiChat, "openai/chat_stream_tool_call.sse"),
            (&OpenAiChat, "openai/chat_stream_n2.sse"),
            (&OpenAiResponses, "openai/responses_stream_function_call.sse"),
            (&AnthropicMessages, "anthropic/stream_tool_use.sse"),
            (&AnthropicMessages, "anthropic/stream_web_search.sse"),
            (&Gemini, "gemini/stream_alt_sse.sse"),
            (&OpenAiCompletions, "openai/completions_stream.sse"),
        ];
        let (codec, file) = streams[which];
        let events = sse_events(&fixture(file));
        let mut d = codec.response_decoder(&LlmRequest::empty(Operation::Chat));
        for p in &picks {
            let (name, data) = p.get(&events);
            d.on_event(name.as_deref(), data);
        }
        let g = d.finish();
        prop_assert!(g.choices.len() <= MAX_CHOICES);
    }
}

/// Every event of a stream delivered twice: text doubles, but ids, model, finish
/// reasons and usage (last-value fields) stay what one pass gives.
#[test]
fn duplicated_events_keep_last_value_fields() {
    for (codec, file) in [
        (
            &OpenAiChat as &dyn Codec,
            "openai/chat_stream_include_usage.sse",
        ),
        (&AnthropicMessages, "anthropic/stream_basic.sse"),
        (&Gemini, "gemini/stream_alt_sse.sse"),
        (&OpenAiResponses, "openai/responses_stream_text.sse"),
    ] {
        let body = fixture(file);
        let once = decode_stream(codec, &LlmRequest::empty(Operation::Chat), &body);
        let mut d = codec.response_decoder(&LlmRequest::empty(Operation::Chat));
        for (name, data) in sse_events(&body) {
            d.on_event(name.as_deref(), &data);
            d.on_event(name.as_deref(), &data);
        }
        let twice = d.finish();
        assert_eq!(twice.response_id, once.response_id, "{file}");
        assert_eq!(twice.response_model, once.response_model, "{file}");
        assert_eq!(twice.usage, once.usage, "{file}");
        assert_eq!(twice.finish_reasons(), once.finish_reasons(), "{file}");
    }
}

/// Choice indexes past the cap are dropped, not allocated.
#[test]
fn huge_choice_indexes_are_capped() {
    let mut d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
    for i in [0u64, 127, 128, 1 << 40, u64::MAX] {
        let ev = format!(r#"{{"choices":[{{"index":{i},"delta":{{"content":"x"}}}}]}}"#);
        d.on_event(None, ev.as_bytes());
    }
    d.on_event(
        None,
        br#"{"choices":[{"index":-1,"delta":{"content":"x"}}]}"#,
    );
    d.on_event(
        None,
        br#"{"choices":[{"index":1e308,"delta":{"content":"x"}}]}"#,
    );
    let g = d.finish();
    assert_eq!(g.choices.len(), 2);
    let mut d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
    d.on_event(
        None,
        br#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":99999999,"function":{"name":"f"}}]}}]}"#,
    );
    assert!(d.finish().choices[0].parts.is_empty());
}

/// A dropped stream still yields what arrived.
#[test]
fn partial_streams_keep_partial_output() {
    let events = sse_events(&fixture("openai/chat_stream_tool_call.sse"));
    let mut d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
    for (name, data) in &events[..4] {
        d.on_event(name.as_deref(), data);
    }
    let g = d.finish();
    assert_eq!(g.choices.len(), 1);
    assert_eq!(g.choices[0].finish_reason, None);
    // The arguments so far (`{"location":"`) are not JSON: kept as the raw string.
    match &g.choices[0].parts[0] {
        humanloop_tracing::provider::Part::ToolCall { arguments, .. } => {
            assert_eq!(arguments, &Value::String(r#"{"location":""#.into()))
        }
        p => panic!("{p:?}"),
    }
}

/// `s` as a JSON string with every non-ASCII character as `\uXXXX` (surrogate pairs
/// beyond the BMP), the way ASCII-only encoders send it.
fn ascii_json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn chat_text(json_string: &str) -> String {
    let mut d = OpenAiChat.response_decoder(&LlmRequest::empty(Operation::Chat));
    let ev = format!(r#"{{"choices":[{{"index":0,"delta":{{"content":{json_string}}}}}]}}"#);
    d.on_event(None, ev.as_bytes());
    d.finish()
        .choices
        .first()
        .map(|m| m.joined_text())
        .unwrap_or_default()
}

proptest! {
    /// Deltas are unescaped straight into the output buffer: whatever the escaping, the
    /// text is what serde_json itself would decode.
    #[test]
    fn escaped_text_round_trips(s in "\\PC{0,40}|[\"\\\\/\\n\\t\\r\\u{8}\\u{c}é😀]{0,20}") {
        let expected = if s.is_empty() { String::new() } else { s.clone() };
        prop_assert_eq!(chat_text(&serde_json::to_string(&s).unwrap()), expected.clone());
        prop_assert_eq!(chat_text(&ascii_json(&s)), expected);
    }
}

#[test]
fn escapes_and_surrogates() {
    assert_eq!(
        chat_text(r#""\ud83d\ude00 \u00e9 \/ \\ \"q\" \b\f\r\t\n""#),
        "😀 é / \\ \"q\" \u{8}\u{c}\r\t\n"
    );
}
