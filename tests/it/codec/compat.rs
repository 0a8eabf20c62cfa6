//! Azure OpenAI and OpenAI-compatible servers (DeepSeek, Groq, Ollama, Mistral) through
//! the OpenAI codecs, with fixtures under `tests/fixtures/{azure,compat}/`.
#![allow(clippy::field_reassign_with_default)]

use crate::harness::{codec::*, fixtures::*};
use humanloop_tracing::provider::{Codec, OpenAiChat, Part, Registry};

#[test]
fn azure_plain_body_ignores_content_filter_results() {
    let g = chat(&OpenAiChat, "azure/chat_basic.json");
    assert_id_and_model(
        &g,
        "chatcmpl-6v7mkQj980V1yBec6ETrKPRqFjNw9",
        "gpt-4o-2024-05-13",
    );
    assert_eq!(
        g.choices,
        one(
            vec![text(
                "Yes, many other Azure AI services also support customer managed keys."
            )],
            Some("stop")
        )
    );
    assert_eq!(g.usage, usage(Some(58), Some(39), None, None, None));
}

#[test]
fn azure_stream_skips_the_empty_first_chunk() {
    let g = chat(&OpenAiChat, "azure/chat_stream.sse");
    // The first chunk's empty id and model do not stick.
    assert_id_and_model(
        &g,
        "chatcmpl-AD9tEo1wQ5SbAn8pzvn1xzVCJzZ9z",
        "gpt-4o-2024-08-06",
    );
    assert_eq!(g.choices, said("Azure OpenAI", Some("stop")));
    assert_eq!(g.usage, usage(Some(24), Some(2), Some(0), None, Some(0)));
}

#[test]
fn azure_error_body_gives_code_and_message() {
    let e = OpenAiChat
        .decode_error(&fixture("azure/error_content_filter.json"))
        .unwrap();
    assert_eq!(e.code.as_deref(), Some("content_filter"));
    assert!(e
        .message
        .unwrap()
        .starts_with("The response was filtered due to the prompt triggering"));
}

#[test]
fn azure_model_falls_back_to_the_deployment() {
    let head = Head::post(
        "https://my-resource.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
    );
    let r = OpenAiChat.decode_request(
        &head.head(),
        br#"{"messages":[{"role":"user","content":"Hi"}],"stream":true}"#,
    );
    assert_eq!(r.model.as_deref(), Some("gpt-4o-prod"));
    assert!(r.stream);
    let r = OpenAiChat.decode_request(
        &head.head(),
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}"#,
    );
    assert_eq!(r.model.as_deref(), Some("gpt-4o"));
    let d = Registry::builtin().detect(&head.head()).unwrap();
    assert_eq!(d.provider, "azure.ai.openai");
}

#[test]
fn deepseek_reasoning_content_is_a_reasoning_part() {
    let g = chat(&OpenAiChat, "compat/deepseek_reasoner.json");
    assert_eq!(
        g.choices,
        one(vec![
                Part::Reasoning {
                    content: "Comparing 9.11 and 9.8: the tenths digit of 9.8 is 8, larger than the 1 of 9.11.".into()
                },
                text("9.11 is smaller than 9.8."),
            ],
            Some("stop")
        )
    );
    assert_eq!(
        g.usage,
        usage(Some(18), Some(264), Some(0), None, Some(248))
    );
}

#[test]
fn groq_usage_under_x_groq_is_read() {
    let g = chat(&OpenAiChat, "compat/groq_stream.sse");
    assert_eq!(g.response_model.as_deref(), Some("llama-3.1-8b-instant"));
    assert_eq!(
        g.choices,
        said("Fast language models matter.", Some("stop"))
    );
    assert_eq!(g.usage, usage(Some(18), Some(4), None, None, None));
}

#[test]
fn ollama_stream_decodes_as_openai_chat() {
    let g = chat(&OpenAiChat, "compat/ollama_stream.sse");
    assert_eq!(g.response_id.as_deref(), Some("chatcmpl-476"));
    assert_eq!(g.choices, said("Hello!", Some("stop")));
}

#[test]
fn flat_error_bodies_give_code_and_message() {
    let e = OpenAiChat
        .decode_error(&fixture("compat/mistral_error.json"))
        .unwrap();
    assert_eq!(e.code.as_deref(), Some("1500"));
    assert_eq!(e.message.as_deref(), Some("Invalid model: mistral-huge"));
    let e = OpenAiChat
        .decode_error(br#"{"detail":"Not Found"}"#)
        .unwrap();
    assert_eq!((e.code, e.message.as_deref()), (None, Some("Not Found")));
    let e = OpenAiChat
        .decode_error(br#"{"error":"model not found"}"#)
        .unwrap();
    assert_eq!(e.message.as_deref(), Some("model not found"));
    assert_eq!(
        OpenAiChat.decode_error(b"<html>502 Bad Gateway</html>"),
        None
    );
    assert_eq!(OpenAiChat.decode_error(br#"{"ok":true}"#), None);
}
