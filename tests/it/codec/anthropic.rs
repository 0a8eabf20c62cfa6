//! Anthropic Messages codec fed with the documented wire examples under
//! `tests/fixtures/anthropic/`.
#![allow(clippy::field_reassign_with_default)]

use crate::harness::{codec::*, fixtures::*};
use humanloop_tracing::provider::{
    AnthropicMessages, Codec, LlmRequest, Operation, Part, ProviderError,
};
use serde_json::json;

fn req() -> LlmRequest {
    LlmRequest::empty(Operation::Chat)
}

#[test]
fn a_message_gives_its_id_model_text_stop_reason_and_usage() {
    let g = chat(&AnthropicMessages, "anthropic/message_basic.json");
    assert_id_and_model(
        &g,
        "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "claude-sonnet-4-5-20250929",
    );
    assert_eq!(g.choices, said("Hi! My name is Claude.", Some("end_turn")));
    assert_eq!(g.usage, usage(Some(2095), Some(503), None, None, None));
}

#[test]
fn a_tool_use_block_is_a_tool_call_part_after_the_text() {
    let g = chat(&AnthropicMessages, "anthropic/message_tool_use.json");
    assert_eq!(
        g.choices,
        one(
            vec![
                text("I'll check the current weather in San Francisco for you."),
                tool_call(
                    Some("toolu_01A09q90qw90lq917835lq9"),
                    "get_weather",
                    json!({"location": "San Francisco, CA", "unit": "celsius"})
                )
            ],
            Some("tool_use")
        )
    );
}

#[test]
fn cache_tokens_are_added_to_input_and_kept_apart() {
    let g = chat(&AnthropicMessages, "anthropic/message_cache_usage.json");
    assert_eq!(
        g.usage,
        usage(
            Some(21 + 188086 + 1024),
            Some(393),
            Some(1024),
            Some(188086),
            None
        )
    );
}

#[test]
fn a_stream_gives_the_text_and_message_delta_replaces_the_output_count() {
    let g = chat(&AnthropicMessages, "anthropic/stream_basic.sse");
    assert_id_and_model(
        &g,
        "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        "claude-opus-4-1-20250805",
    );
    assert_eq!(g.choices, said("Hello!", Some("end_turn")));
    // message_delta's cumulative output count replaces message_start's.
    assert_eq!(g.usage, usage(Some(25), Some(15), None, None, None));
    assert_eq!(g.error, None);
}

#[test]
fn tool_use_stream_joins_input_json() {
    let g = chat(&AnthropicMessages, "anthropic/stream_tool_use.sse");
    assert_eq!(
        g.choices,
        one(
            vec![
                text("Okay, let's check the weather for San Francisco, CA:"),
                tool_call(
                    Some("toolu_01T1x1fJ34qAmk2tNTrN7Up6"),
                    "get_weather",
                    json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
                )
            ],
            Some("tool_use")
        )
    );
    assert_eq!(g.usage, usage(Some(472), Some(89), None, None, None));
}

#[test]
fn thinking_deltas_are_one_reasoning_part_before_the_text() {
    let g = chat(&AnthropicMessages, "anthropic/stream_thinking.sse");
    assert_eq!(
        g.choices,
        one(vec![
                Part::Reasoning {
                    content: "Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3\n3. 27 * 400 = 10,800\n4. 27 * 50 = 1,350\n5. 27 * 3 = 81\n6. 10,800 + 1,350 + 81 = 12,231".into()
                },
                text("27 * 453 = 12,231"),
            ],
            Some("end_turn")
        )
    );
    // This documented stream carries no usage at all.
    assert_eq!(g.usage, usage(None, None, None, None, None));
}

#[test]
fn a_server_tool_use_is_a_tool_call_and_message_delta_cache_fields_count() {
    let g = chat(&AnthropicMessages, "anthropic/stream_web_search.sse");
    assert_eq!(
        g.choices,
        one(vec![
                text("I'll check the current weather in New York City for you."),
                tool_call(Some("srvtoolu_014hJH82Qum7Td6UV8gDXThB"), "web_search", json!({"query": "weather NYC today"})),
                text("Here's the current weather information for New York City:\n\n# Weather in New York City\n\n"),
            ],
            Some("end_turn")
        )
    );
    assert_eq!(
        g.usage,
        usage(Some(10682), Some(510), Some(0), Some(0), None)
    );
}

#[test]
fn error_event_keeps_partial_output() {
    let g = chat(&AnthropicMessages, "anthropic/stream_error.sse");
    let mut want = ProviderError::default();
    want.code = Some("overloaded_error".into());
    want.message = Some("Overloaded".into());
    assert_eq!(g.error, Some(want));
    assert_eq!(g.choices, said("ello frien", None));
}

#[test]
fn an_error_body_gives_its_type_and_message() {
    let body = fixture("anthropic/error_not_found.json");
    let mut want = ProviderError::default();
    want.code = Some("not_found_error".into());
    want.message = Some("The requested resource could not be found.".into());
    assert_eq!(AnthropicMessages.decode_error(&body), Some(want.clone()));
    assert_eq!(
        decode_body(&AnthropicMessages, &req(), &body).error,
        Some(want)
    );
}

#[test]
fn a_request_gives_model_stream_user_params_and_messages() {
    let head = Head::post("https://api.anthropic.com/v1/messages");
    let r =
        AnthropicMessages.decode_request(&head.head(), &fixture("anthropic/request_tools.json"));
    assert_eq!(r.operation, Operation::Chat);
    assert_eq!(r.model.as_deref(), Some("claude-opus-4-1-20250805"));
    assert!(r.stream);
    assert_eq!(
        r.user.as_deref(),
        Some("13803d75-b4b5-4c3e-b2a2-6f21399b021b")
    );
    assert_eq!(r.params.max_tokens, Some(1024));
    assert_eq!(r.params.temperature, Some(0.7));
    assert_eq!(r.params.top_k, Some(40.0));
    assert_eq!(r.params.stop_sequences, vec!["\n\nHuman:".to_string()]);
    assert_eq!(
        serde_json::to_value(&r.system).unwrap(),
        json!([
            {"type": "text", "content": "You are an AI assistant tasked with analyzing literary works."},
            {"type": "text", "content": "<the entire contents of Pride and Prejudice>"}
        ])
    );
    assert_eq!(r.tools.len(), 1);
    assert_eq!(
        messages_of(&r),
        json!([
            {"role": "user", "parts": [
                {"type": "blob", "mime_type": "image/jpeg", "modality": "image", "content": "/9j/4AAQSkZJRg=="},
                {"type": "text", "content": "What is the weather like in San Francisco?"}
            ]},
            {"role": "assistant", "parts": [
                {"type": "text", "content": "I'll check the current weather in San Francisco for you."},
                {"type": "tool_call", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                 "arguments": {"location": "San Francisco, CA", "unit": "celsius"}}
            ]},
            {"role": "user", "parts": [
                {"type": "tool_call_response", "id": "toolu_01A09q90qw90lq917835lq9", "response": "15 degrees"}
            ]}
        ])
    );
}
