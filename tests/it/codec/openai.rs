//! OpenAI codecs fed with the documented wire examples under `tests/fixtures/openai/`.
#![allow(clippy::field_reassign_with_default)]

use crate::harness::{codec::*, fixtures::*};
use humanloop_tracing::provider::{
    Codec, LlmRequest, OpenAiChat, OpenAiResponses, Operation, Part, ProviderError,
};
use serde_json::json;

fn chat_request() -> LlmRequest {
    LlmRequest::empty(Operation::Chat)
}

#[test]
fn chat_answer_gives_id_model_text_finish_reason_and_usage() {
    let g = chat(&OpenAiChat, "openai/chat_basic.json");
    assert_id_and_model(&g, "chatcmpl-123", "gpt-4o-mini");
    assert_eq!(
        g.choices,
        said("\n\nHello there, how may I assist you today?", Some("stop"))
    );
    assert_eq!(g.usage, usage(Some(9), Some(12), None, None, Some(0)));
    assert_eq!(g.error, None);
}

#[test]
fn chat_tool_calls_are_tool_call_parts_with_parsed_arguments() {
    let g = chat(&OpenAiChat, "openai/chat_tool_calls.json");
    assert_eq!(
        g.choices,
        one(
            vec![tool_call(
                Some("call_abc123"),
                "get_current_weather",
                json!({"location": "Boston, MA"})
            )],
            Some("tool_calls")
        )
    );
    assert_eq!(g.finish_reasons(), vec!["tool_calls"]);
    assert_eq!(g.usage, usage(Some(82), Some(17), None, None, Some(0)));
}

#[test]
fn chat_refusal_is_a_text_part() {
    let g = chat(&OpenAiChat, "openai/chat_refusal.json");
    assert_eq!(
        g.choices,
        said(
            "I'm sorry, I cannot assist with that request.",
            Some("stop")
        )
    );
    let s = chat(&OpenAiChat, "openai/chat_stream_refusal.sse");
    assert_eq!(s.choices, g.choices);
    assert_eq!(s.response_id.as_deref(), Some("chatcmpl-refusal1"));
}

#[test]
fn chat_usage_keeps_cached_and_reasoning_tokens() {
    let g = chat(&OpenAiChat, "openai/chat_reasoning_cached.json");
    assert_eq!(
        g.usage,
        usage(Some(2006), Some(2434), Some(1920), None, Some(1920))
    );
    assert_eq!(g.response_model.as_deref(), Some("o1-2024-12-17"));
}

#[test]
fn chat_stream_joins_deltas_and_takes_the_final_usage_chunk() {
    let g = chat(&OpenAiChat, "openai/chat_stream_include_usage.sse");
    assert_id_and_model(&g, "chatcmpl-123", "gpt-4o-mini");
    assert_eq!(g.choices, said("Hello! How can I help?", Some("stop")));
    assert_eq!(g.usage, usage(Some(9), Some(5), Some(0), None, Some(0)));
}

#[test]
fn chat_stream_tool_call_fragments_are_joined() {
    let g = chat(&OpenAiChat, "openai/chat_stream_tool_call.sse");
    assert_eq!(
        g.choices,
        one(
            vec![tool_call(
                Some("call_DdmO9pD3xa9XTPNJ32zg2hcA"),
                "get_weather",
                json!({"location": "Paris, France"})
            )],
            Some("tool_calls")
        )
    );
    // No include_usage: no usage at all, rather than zeros.
    assert_eq!(g.usage, usage(None, None, None, None, None));
}

#[test]
fn chat_stream_n2_keeps_each_choice() {
    let g = chat(&OpenAiChat, "openai/chat_stream_n2.sse");
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
fn chat_error_body_gives_code_and_message() {
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
fn chat_request_gives_model_params_messages_and_tools() {
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
    let msgs = messages_of(&r);
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

// ---- Responses ----------------------------------------------------------------------

const LUMINA: &str = "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool that reflected the stars. As she dipped her horn into the water, the pool began to shimmer, revealing a pathway to a magical realm of endless night skies. Filled with wonder, Lumina whispered a wish for all who dream to find their own hidden magic, and as she glanced back, her hoofprints sparkled like stardust.";

#[test]
fn responses_answer_gives_text_completed_status_and_usage() {
    let g = chat(&OpenAiResponses, "openai/responses_basic.json");
    assert_id_and_model(
        &g,
        "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "gpt-4.1-2025-04-14",
    );
    assert_eq!(g.choices, one(vec![text(LUMINA)], Some("completed")));
    assert_eq!(g.usage, usage(Some(36), Some(87), Some(0), None, Some(0)));
}

#[test]
fn responses_reasoning_and_function_call_with_cache_usage() {
    let g = chat(
        &OpenAiResponses,
        "openai/responses_reasoning_function_call.json",
    );
    assert_eq!(
        g.choices,
        one(vec![
                Part::Reasoning {
                    content: "**Checking the weather**\n\nThe user wants the weather in Paris, so I should call get_weather.".into()
                },
                tool_call(Some("call_12345xyz"), "get_weather", json!({"location": "Paris, France"}))
            ],
            Some("completed")
        )
    );
    assert_eq!(
        g.usage,
        usage(Some(1584), Some(219), Some(1280), None, Some(192))
    );
}

#[test]
fn responses_stream_text_deltas_equal_the_final_response() {
    let g = chat(&OpenAiResponses, "openai/responses_stream_text.sse");
    assert_id_and_model(
        &g,
        "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
        "gpt-4.1-2025-04-14",
    );
    assert_eq!(
        g.choices,
        said("Hi there! How can I assist you today?", Some("completed"))
    );
    assert_eq!(g.usage, usage(Some(37), Some(11), Some(0), None, Some(0)));
}

#[test]
fn responses_stream_function_call_arguments_are_joined() {
    let g = chat(
        &OpenAiResponses,
        "openai/responses_stream_function_call.sse",
    );
    let want = one(
        vec![tool_call(
            Some("call_1234xyz"),
            "get_weather",
            json!({"location": "Paris, France"}),
        )],
        Some("completed"),
    );
    assert_eq!(g.choices, want);
    assert_eq!(g.usage, usage(Some(57), Some(17), Some(0), None, Some(0)));

    // Only the deltas (no done events, no final response): the same call.
    let events = sse_events(&fixture("openai/responses_stream_function_call.sse"));
    let mut d = OpenAiResponses.response_decoder(&chat_request());
    for (name, data) in &events {
        let name = name.as_deref().unwrap_or("");
        if name.ends_with(".delta") || name == "response.output_item.added" {
            d.on_event(Some(name), data);
        }
    }
    let partial = d.finish();
    assert_eq!(partial.choices[0].parts, want[0].parts);
    assert_eq!(partial.choices[0].finish_reason, None);
}

#[test]
fn responses_failed_and_error_events() {
    let g = chat(&OpenAiResponses, "openai/responses_stream_failed.sse");
    let mut want = ProviderError::default();
    want.code = Some("server_error".into());
    want.message = Some("The model failed to generate a response.".into());
    assert_eq!(g.error, Some(want));
    assert_eq!(g.response_id.as_deref(), Some("resp_123"));
    assert!(g.choices.is_empty());

    let g = chat(&OpenAiResponses, "openai/responses_stream_error.sse");
    let mut want = ProviderError::default();
    want.code = Some("ERR_SOMETHING".into());
    want.message = Some("Something went wrong".into());
    assert_eq!(g.error, Some(want));
}

#[test]
fn responses_error_body_gives_the_code() {
    let body = fixture("openai/error_invalid_api_key.json");
    assert_eq!(
        OpenAiResponses.decode_error(&body).and_then(|e| e.code),
        Some("invalid_api_key".to_string())
    );
}

#[test]
fn responses_request_gives_model_stream_user_and_params() {
    let head = Head::post("https://api.openai.com/v1/responses");
    let r = OpenAiResponses.decode_request(&head.head(), &fixture("openai/responses_request.json"));
    assert_eq!(r.operation, Operation::Chat);
    assert_eq!(r.model.as_deref(), Some("gpt-4.1"));
    assert!(r.stream);
    assert_eq!(r.user.as_deref(), Some("user_123"));
    assert_eq!(r.params.temperature, Some(0.5));
    assert_eq!(r.params.top_p, Some(0.9));
    assert_eq!(r.params.max_tokens, Some(512));
    assert_eq!(r.params.output_type.as_deref(), Some("json"));
    assert_eq!(r.tools.len(), 1);
    assert_eq!(
        serde_json::to_value(&r.system).unwrap(),
        json!([{"type": "text", "content": "You are a helpful assistant."}])
    );
    assert_eq!(
        messages_of(&r),
        json!([
            {"role": "user", "parts": [
                {"type": "text", "content": "what is in this image?"},
                {"type": "uri", "modality": "image", "uri": "https://upload.wikimedia.org/wikipedia/commons/thumb/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg/2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg"}
            ]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "call_12345xyz", "name": "get_weather", "arguments": {"location": "Paris, France"}}
            ]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "call_12345xyz", "response": "{\"temperature\": 14}"}
            ]}
        ])
    );
    // A plain string input is one user message.
    let r = OpenAiResponses.decode_request(
        &head.head(),
        br#"{"model":"gpt-4.1","input":"Tell me a three sentence bedtime story about a unicorn."}"#,
    );
    assert_eq!(
        messages_of(&r),
        user_text("Tell me a three sentence bedtime story about a unicorn.")
    );
}

// ---- Completions and Embeddings ---------------------------------------------------

#[test]
fn completions_body_stream_and_request_give_text_finish_reason_and_prompt() {
    use humanloop_tracing::provider::OpenAiCompletions;
    let req = LlmRequest::empty(Operation::TextCompletion);
    let g = decoded(&OpenAiCompletions, &req, "openai/completions_basic.json");
    assert_id_and_model(
        &g,
        "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
        "gpt-3.5-turbo-instruct",
    );
    assert_eq!(g.choices, said("\n\nThis is indeed a test", Some("length")));
    assert_eq!(g.usage, usage(Some(5), Some(7), None, None, None));

    let s = decoded(&OpenAiCompletions, &req, "openai/completions_stream.sse");
    assert_eq!(s.choices, said("This is a test", Some("stop")));

    let head = Head::post("https://api.openai.com/v1/completions");
    let r = OpenAiCompletions.decode_request(
        &head.head(),
        br#"{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7,"temperature":0,"n":1,"stream":false,"stop":"\n"}"#,
    );
    assert_eq!(r.operation, Operation::TextCompletion);
    assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-instruct"));
    assert_eq!(r.params.max_tokens, Some(7));
    assert_eq!(r.params.temperature, Some(0.0));
    assert_eq!(r.params.stop_sequences, vec!["\n".to_string()]);
    assert_eq!(messages_of(&r), user_text("Say this is a test"));
}

#[test]
fn embeddings_keep_only_the_count() {
    use humanloop_tracing::provider::OpenAiEmbeddings;
    let req = LlmRequest::empty(Operation::Embeddings);
    let g = decoded(&OpenAiEmbeddings, &req, "openai/embeddings_basic.json");
    assert_eq!(g.embeddings, Some(2));
    assert_eq!(g.response_model.as_deref(), Some("text-embedding-ada-002"));
    assert_eq!(g.usage, usage(Some(8), None, None, None, None));
    assert!(g.choices.is_empty());
    assert!(!format!("{g:?}").contains("0.0023064255"));

    let head = Head::post("https://api.openai.com/v1/embeddings");
    let r = OpenAiEmbeddings.decode_request(
        &head.head(),
        br#"{"input":["The food was delicious","and the waiter"],"model":"text-embedding-3-small","encoding_format":"float","dimensions":256}"#,
    );
    assert_eq!(r.operation, Operation::Embeddings);
    assert_eq!(r.model.as_deref(), Some("text-embedding-3-small"));
    assert_eq!(
        r.params.response_format,
        Some(json!({"encoding_format": "float", "dimensions": 256}))
    );
    assert_eq!(r.messages[0].parts.len(), 2);
    let mut err = ProviderError::default();
    err.code = Some("invalid_api_key".into());
    assert_eq!(
        OpenAiEmbeddings
            .decode_error(&fixture("openai/error_invalid_api_key.json"))
            .and_then(|e| e.code),
        err.code
    );
}
