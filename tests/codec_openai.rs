//! OpenAI codecs fed with the documented wire examples under `tests/fixtures/openai/`.
#![allow(clippy::field_reassign_with_default)]

mod support;

use humanloop_tracing::provider::{Codec, LlmRequest, OpenAiChat, Operation, Part, ProviderError};
use serde_json::json;
use support::*;

fn chat_request() -> LlmRequest {
    LlmRequest::empty(Operation::Chat)
}

#[test]
fn chat_plain_body() {
    let g = decode_body(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_basic.json"),
    );
    assert_eq!(g.response_id.as_deref(), Some("chatcmpl-123"));
    assert_eq!(g.response_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        g.choices,
        vec![out_message(
            vec![text("\n\nHello there, how may I assist you today?")],
            Some("stop")
        )]
    );
    assert_eq!(g.usage, usage(Some(9), Some(12), None, None, Some(0)));
    assert_eq!(g.error, None);
}

#[test]
fn chat_plain_tool_calls() {
    let g = decode_body(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_tool_calls.json"),
    );
    assert_eq!(
        g.choices,
        vec![out_message(
            vec![Part::ToolCall {
                id: Some("call_abc123".into()),
                name: "get_current_weather".into(),
                arguments: json!({"location": "Boston, MA"}),
            }],
            Some("tool_calls")
        )]
    );
    assert_eq!(g.finish_reasons(), vec!["tool_calls"]);
    assert_eq!(g.usage, usage(Some(82), Some(17), None, None, Some(0)));
}

#[test]
fn chat_refusal_is_a_text_part() {
    let g = decode_body(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_refusal.json"),
    );
    assert_eq!(
        g.choices,
        vec![out_message(
            vec![text("I'm sorry, I cannot assist with that request.")],
            Some("stop")
        )]
    );
    let s = decode_stream(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_stream_refusal.sse"),
    );
    assert_eq!(s.choices, g.choices);
    assert_eq!(s.response_id.as_deref(), Some("chatcmpl-refusal1"));
}

#[test]
fn chat_cached_and_reasoning_usage() {
    let g = decode_body(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_reasoning_cached.json"),
    );
    assert_eq!(
        g.usage,
        usage(Some(2006), Some(2434), Some(1920), None, Some(1920))
    );
    assert_eq!(g.response_model.as_deref(), Some("o1-2024-12-17"));
}

#[test]
fn chat_stream_with_include_usage() {
    let g = decode_stream(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_stream_include_usage.sse"),
    );
    assert_eq!(g.response_id.as_deref(), Some("chatcmpl-123"));
    assert_eq!(g.response_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        g.choices,
        vec![out_message(
            vec![text("Hello! How can I help?")],
            Some("stop")
        )]
    );
    assert_eq!(g.usage, usage(Some(9), Some(5), Some(0), None, Some(0)));
}

#[test]
fn chat_stream_tool_call_fragments_are_joined() {
    let g = decode_stream(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_stream_tool_call.sse"),
    );
    assert_eq!(
        g.choices,
        vec![out_message(
            vec![Part::ToolCall {
                id: Some("call_DdmO9pD3xa9XTPNJ32zg2hcA".into()),
                name: "get_weather".into(),
                arguments: json!({"location": "Paris, France"}),
            }],
            Some("tool_calls")
        )]
    );
    // No include_usage: no usage at all, rather than zeros.
    assert_eq!(g.usage, usage(None, None, None, None, None));
}

#[test]
fn chat_stream_n2_keeps_each_choice() {
    let g = decode_stream(
        &OpenAiChat,
        &chat_request(),
        &fixture("openai/chat_stream_n2.sse"),
    );
    assert_eq!(
        g.choices,
        vec![
            out_message(vec![text("Red is warm.")], Some("length")),
            out_message(vec![text("Blue is calm.")], Some("stop")),
        ]
    );
    assert_eq!(g.finish_reasons(), vec!["length", "stop"]);
    assert_eq!(g.usage, usage(Some(14), Some(8), Some(0), None, Some(0)));
}

#[test]
fn chat_error_body() {
    let body = fixture("openai/error_invalid_api_key.json");
    let mut want = ProviderError::default();
    want.code = Some("invalid_api_key".into());
    want.message = Some(
        "Incorrect API key provided: sk-abc***. You can find your API key at https://platform.openai.com/account/api-keys.".into(),
    );
    assert_eq!(OpenAiChat.decode_error(&body), Some(want.clone()));
    // The same object arriving as a stream event or a 200 body is recorded too.
    let g = decode_body(&OpenAiChat, &chat_request(), &body);
    assert_eq!(g.error, Some(want));
    assert!(g.choices.is_empty());
}

#[test]
fn chat_request_decoding() {
    let head = Head::post("https://api.openai.com/v1/chat/completions");
    let r = OpenAiChat.decode_request(&head.head(), &fixture("openai/chat_request_tools.json"));
    assert_eq!(r.operation, Operation::Chat);
    assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));
    assert!(r.stream);
    assert_eq!(r.user.as_deref(), Some("user-1234"));
    let p = &r.params;
    assert_eq!(p.temperature, Some(0.2));
    assert_eq!(p.top_p, Some(0.9));
    assert_eq!(p.max_tokens, Some(256));
    assert_eq!(p.frequency_penalty, Some(0.5));
    assert_eq!(p.presence_penalty, Some(-0.5));
    assert_eq!(p.seed, Some(42));
    assert_eq!(p.stop_sequences, vec!["\n\n".to_string()]);
    assert_eq!(p.choice_count, Some(2));
    assert_eq!(p.include_usage, Some(true));
    assert_eq!(p.output_type.as_deref(), Some("json"));
    assert_eq!(r.tools.len(), 1);
    assert_eq!(r.tools[0]["function"]["name"], "get_current_weather");
    let msgs = serde_json::to_value(&r.messages).unwrap();
    assert_eq!(
        msgs,
        json!([
            {"role": "system", "parts": [{"type": "text", "content": "You are a helpful assistant."}]},
            {"role": "user", "parts": [
                {"type": "text", "content": "What's the weather like in Boston today?"},
                {"type": "uri", "uri": "https://upload.wikimedia.org/wikipedia/commons/boston.jpg", "modality": "image"}
            ]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "call_abc123", "name": "get_current_weather", "arguments": {"location": "Boston, MA"}}
            ]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "call_abc123", "response": "{\"temperature\": 22, \"unit\": \"celsius\"}"}
            ]}
        ])
    );
}

#[test]
fn chat_request_unreadable_body_is_empty() {
    let head = Head::post("https://api.openai.com/v1/chat/completions");
    for body in [
        &b""[..],
        b"{",
        b"[1,2]",
        b"null",
        b"{\"model\": 5, \"messages\": {}}",
    ] {
        let r = OpenAiChat.decode_request(&head.head(), body);
        assert_eq!(r.model, None);
        assert!(r.messages.is_empty());
    }
}

#[test]
fn chat_stream_ignores_done_comments_and_garbage() {
    let mut d = OpenAiChat.response_decoder(&chat_request());
    d.on_event(None, b"[DONE]");
    d.on_event(None, b"not json");
    d.on_event(
        None,
        br#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
    );
    d.on_event(
        None,
        br#"{"choices":[{"index":"x","delta":{"content":5}}]}"#,
    );
    d.on_event(
        None,
        br#"{"choices":[{"index":9999999,"delta":{"content":"lost"}}]}"#,
    );
    d.on_event(None, br#"{"choices":[{"index":0,"delta":{"content":"b"}}],"usage":{"prompt_tokens":1e300,"completion_tokens":-3}}"#);
    let g = d.finish();
    assert_eq!(
        g.choices,
        vec![{
            let mut m = out_message(vec![text("ab")], None);
            m.role = "assistant".into();
            m
        }]
    );
    assert_eq!(g.usage.input_tokens, Some(i64::MAX));
    assert_eq!(g.usage.output_tokens, Some(-3));
}
