//! Gemini codec fed with wire examples following the documented schema under
//! `tests/fixtures/gemini/`.
#![allow(clippy::field_reassign_with_default)]

use crate::harness::{codec::*, fixtures::*};
use humanloop_tracing::provider::{Codec, Gemini, LlmRequest, Operation, Part, ProviderError};
use serde_json::json;

fn req() -> LlmRequest {
    LlmRequest::empty(Operation::GenerateContent)
}

fn gemini(path: &str) -> humanloop_tracing::provider::Generation {
    decoded(&Gemini, &req(), path)
}

#[test]
fn an_answer_gives_id_model_text_finish_reason_and_usage() {
    let g = gemini("gemini/generate_basic.json");
    assert_id_and_model(&g, "Aq9SaJ3lOYqRjMcP0ezwqQE", "gemini-2.0-flash");
    assert_eq!(
        g.choices,
        said("AI learns patterns from data to make predictions or decisions without being explicitly programmed.\n", Some("STOP"))
    );
    assert_eq!(g.usage, usage(Some(8), Some(17), None, None, None));
}

#[test]
fn thoughts_are_reasoning_and_count_as_output() {
    let g = gemini("gemini/generate_thinking_cached.json");
    assert_eq!(
        g.choices,
        one(vec![
                Part::Reasoning {
                    content: "**Calculating the product**\n\nI split 453 into 400 + 50 + 3 and multiply each part by 27.".into()
                },
                text("27 × 453 = 12,231"),
            ],
            Some("STOP")
        )
    );
    assert_eq!(
        g.usage,
        usage(Some(2066), Some(12 + 342), Some(2048), None, Some(342))
    );
}

#[test]
fn a_function_call_part_is_a_tool_call_without_an_id() {
    let g = gemini("gemini/generate_function_call.json");
    assert_eq!(
        g.choices,
        one(
            vec![tool_call(
                None,
                "set_light_values",
                json!({"brightness": 25, "color_temp": "warm"})
            )],
            Some("STOP")
        )
    );
}

#[test]
fn each_candidate_is_a_choice_with_its_finish_reason() {
    let g = gemini("gemini/generate_candidates2.json");
    assert_eq!(
        g.choices,
        vec![
            out_message(
                vec![text("Once upon a time, a backpack found a map.")],
                Some("STOP")
            ),
            out_message(vec![text("The magic backpack hummed")], Some("MAX_TOKENS")),
        ]
    );
    assert_eq!(g.finish_reasons(), vec!["STOP", "MAX_TOKENS"]);
}

#[test]
fn sse_stream_joins_chunks_and_keeps_last_usage() {
    let g = gemini("gemini/stream_alt_sse.sse");
    assert_eq!(g.response_id.as_deref(), Some("mQ9SaLm3OoL2xN8P4s2u8Qk"));
    assert_eq!(
        g.choices,
        said(
            "The magic backpack hummed softly as Maya unzipped it, revealing a map to anywhere.\n",
            Some("STOP")
        )
    );
    assert_eq!(g.usage, usage(Some(9), Some(18), None, None, None));
}

#[test]
fn json_array_stream_equals_sse_stream() {
    // streamGenerateContent without alt=sse: the same chunks as one JSON array.
    let events = sse_events(&fixture("gemini/stream_alt_sse.sse"));
    let mut array = b"[".to_vec();
    for (i, (_, data)) in events.iter().enumerate() {
        if i > 0 {
            array.extend_from_slice(b",\r\n");
        }
        array.extend_from_slice(data);
    }
    array.push(b']');
    let a = decode_body(&Gemini, &req(), &array);
    let s = gemini("gemini/stream_alt_sse.sse");
    assert_eq!(a, s);
}

#[test]
fn an_error_body_gives_status_and_message_alone_or_in_an_array() {
    let body = fixture("gemini/error_api_key_invalid.json");
    let mut want = ProviderError::default();
    want.code = Some("INVALID_ARGUMENT".into());
    want.message = Some("API key not valid. Please pass a valid API key.".into());
    assert_eq!(Gemini.decode_error(&body), Some(want.clone()));
    let array = [b"[".as_slice(), &body, b"]"].concat();
    assert_eq!(Gemini.decode_error(&array), Some(want));
}

#[test]
fn request_decoding_takes_the_model_from_the_path() {
    let body = fixture("gemini/request_function_calling.json");
    let head = Head::post(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    );
    let r = Gemini.decode_request(&head.head(), &body);
    assert_eq!(r.operation, Operation::GenerateContent);
    assert_eq!(r.model.as_deref(), Some("gemini-2.5-flash"));
    assert!(r.stream);
    let p = &r.params;
    assert_eq!(p.temperature, Some(1.0));
    assert_eq!(p.top_p, Some(0.8));
    assert_eq!(p.top_k, Some(10.0));
    assert_eq!(p.max_tokens, Some(800));
    assert_eq!(p.choice_count, Some(2));
    assert_eq!(p.seed, Some(7));
    assert_eq!(p.stop_sequences, vec!["Title".to_string()]);
    assert_eq!(p.output_type.as_deref(), Some("json"));
    assert_eq!(
        serde_json::to_value(&r.system).unwrap(),
        json!([{"type": "text", "content": "You are a helpful lighting system bot."}])
    );
    assert_eq!(r.tools.len(), 1);
    assert_eq!(
        messages_of(&r),
        json!([
            {"role": "user", "parts": [
                {"type": "text", "content": "Turn the lights down to a romantic level"},
                {"type": "blob", "mime_type": "image/jpeg", "modality": "image", "content": "/9j/4AAQSkZJRg=="}
            ]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "name": "set_light_values", "arguments": {"brightness": 25, "color_temp": "warm"}}
            ]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "set_light_values", "response": {"brightness": 25, "colorTemperature": "warm"}}
            ]}
        ])
    );

    let vertex = Head::post(
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent",
    );
    let r = Gemini.decode_request(&vertex.head(), &body);
    assert_eq!(r.model.as_deref(), Some("gemini-2.0-flash"));
    assert!(!r.stream);
}
