//! The head decoders (what the span needs, on the caller's path) give exactly the full
//! decode minus the content: `Codec::decode_request_head` the same model, stream flag,
//! parameters and user as `decode_request`; `ResponseDecoder::on_body_head` the same id,
//! model, usage, error, roles and finish reasons as `on_body`. Checked on the documented
//! fixtures and on bodies with odd or repeated fields.

use crate::harness::fixtures::*;
use humanloop_tracing::provider::{
    AnthropicMessages, Codec, Gemini, Generation, LlmRequest, OpenAiChat, OpenAiCompletions,
    OpenAiEmbeddings, OpenAiResponses, Operation, RequestHead,
};

fn check(codec: &dyn Codec, url: &str, body: &[u8]) -> (LlmRequest, LlmRequest) {
    let (method, uri, headers) = (
        http::Method::POST,
        url.parse::<http::Uri>().unwrap(),
        http::HeaderMap::new(),
    );
    let head = RequestHead {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    let full = codec.decode_request(&head, body);
    let start = codec.decode_request_head(&head, body);
    let mut stripped = full.clone();
    stripped.system.clear();
    stripped.messages.clear();
    stripped.tools.clear();
    let mut start_stripped = start.clone();
    start_stripped.system.clear();
    start_stripped.messages.clear();
    start_stripped.tools.clear();
    assert_eq!(
        start_stripped,
        stripped,
        "{}: {}",
        codec.id(),
        String::from_utf8_lossy(body)
    );
    (full, start)
}

const CHAT: &str = "https://api.openai.com/v1/chat/completions";
const RESPONSES: &str = "https://api.openai.com/v1/responses";
const ANTHROPIC: &str = "https://api.anthropic.com/v1/messages";
const GEMINI: &str =
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent";

#[test]
fn fixtures_keep_their_head_and_skip_their_content() {
    for (codec, url, file) in [
        (
            &OpenAiChat as &dyn Codec,
            CHAT,
            "openai/chat_request_tools.json",
        ),
        (&OpenAiResponses, RESPONSES, "openai/responses_request.json"),
        (
            &AnthropicMessages,
            ANTHROPIC,
            "anthropic/request_tools.json",
        ),
        (&Gemini, GEMINI, "gemini/request_function_calling.json"),
    ] {
        let (full, start) = check(codec, url, &fixture(file));
        assert!(full.model.is_some(), "{file}");
        assert!(
            !full.messages.is_empty() && !full.tools.is_empty(),
            "{file}"
        );
        assert!(
            start.messages.is_empty() && start.tools.is_empty() && start.system.is_empty(),
            "{file}: the head decode built content"
        );
    }
}

#[test]
fn every_parameter_and_odd_shapes_match_the_full_decode() {
    let chat = [
        r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"user":"u1","temperature":0.5,"top_p":0.9,"top_k":40,"max_completion_tokens":100,"max_tokens":7,"frequency_penalty":0.1,"presence_penalty":-0.2,"seed":42,"stop":["a","b"],"n":2,"response_format":{"type":"json_schema"},"messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"model":"m","stop":"x","modalities":["text","audio"],"safety_identifier":"s","messages":[]}"#,
        r#"{"model":"first","model":"second","temperature":"hot","max_tokens":1e3,"seed":18446744073709551615}"#,
        r#"{"model":null,"stream":"yes","stop":[1,"z"],"response_format":"json"}"#,
        r#"{"mod\u0065l":"escaped","messag\u0065s":[{"role":"user","content":"x"}]}"#,
        r#"{"messages":[{"role":"user","content":"unterminated"}"#,
        r#"["model","gpt-4o"]"#,
        r#"{"model":"m"} trailing"#,
        "",
        "null",
    ];
    for body in chat {
        check(&OpenAiChat, CHAT, body.as_bytes());
        check(
            &OpenAiChat,
            "https://r.openai.azure.com/openai/deployments/dep-1/chat/completions?api-version=2024-10-21",
            body.as_bytes(),
        );
        check(&OpenAiResponses, RESPONSES, body.as_bytes());
        check(&AnthropicMessages, ANTHROPIC, body.as_bytes());
        check(&Gemini, GEMINI, body.as_bytes());
        // Codecs without a head decoder of their own fall back to the full decode.
        check(
            &OpenAiCompletions,
            "https://api.openai.com/v1/completions",
            body.as_bytes(),
        );
        check(
            &OpenAiEmbeddings,
            "https://api.openai.com/v1/embeddings",
            body.as_bytes(),
        );
    }
    let others = [
        (
            &OpenAiResponses as &dyn Codec,
            RESPONSES,
            r#"{"model":"o4-mini","instructions":"be brief","input":"hi","max_output_tokens":64,"temperature":1,"text":{"format":{"type":"json_schema"}},"tools":[{"type":"web_search"}]}"#,
        ),
        (
            &AnthropicMessages,
            ANTHROPIC,
            r#"{"model":"claude-sonnet-4-5","system":[{"type":"text","text":"be brief"}],"max_tokens":1024,"stop_sequences":["\n\nHuman:"],"top_k":5,"metadata":{"user_id":"u-9"},"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        (
            &Gemini,
            GEMINI,
            r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"be brief"}]},"generationConfig":{"temperature":0.3,"topK":3,"maxOutputTokens":50,"stopSequences":["x"],"candidateCount":2,"responseMimeType":"application/json","seed":7}}"#,
        ),
        (
            &Gemini,
            GEMINI,
            r#"{"generation_config":{"top_p":0.5,"max_output_tokens":9},"system_instruction":"plain"}"#,
        ),
    ];
    for (codec, url, body) in others {
        let (full, _) = check(codec, url, body.as_bytes());
        assert!(full.model.is_some());
    }
}

/// `on_body_head` equals `on_body` but for the choices' parts, whenever `on_body` could
/// read the body.
fn check_body(codec: &dyn Codec, body: &[u8]) -> (Generation, Generation) {
    let req = LlmRequest::empty(Operation::Chat);
    let mut d = codec.response_decoder(&req);
    d.on_body(body);
    let full = d.finish();
    let mut d = codec.response_decoder(&req);
    d.on_body_head(body);
    let head = d.finish();
    // Codecs without a head decoder of their own decode everything. A body whose content
    // alone is malformed fails the full decode but not the head's, which then knows more.
    let strip = |g: &Generation| {
        let mut g = g.clone();
        g.choices.iter_mut().for_each(|m| m.parts.clear());
        g
    };
    if full == Generation::default() {
        return (full, head);
    }
    assert_eq!(
        strip(&head),
        strip(&full),
        "{}: {}",
        codec.id(),
        String::from_utf8_lossy(body)
    );
    (full, head)
}

#[test]
fn response_heads_match_the_full_decode() {
    for file in [
        "openai/chat_basic.json",
        "openai/chat_reasoning_cached.json",
        "openai/chat_refusal.json",
        "openai/chat_tool_calls.json",
        "azure/chat_basic.json",
        "compat/deepseek_reasoner.json",
        "openai/error_invalid_api_key.json",
        "openai/responses_basic.json",
        "anthropic/message_tool_use.json",
        "gemini/generate_candidates2.json",
    ] {
        let body = fixture(file);
        for codec in [
            &OpenAiChat as &dyn Codec,
            &OpenAiResponses,
            &AnthropicMessages,
            &Gemini,
        ] {
            check_body(codec, &body);
        }
    }
    let (full, head) = check_body(&OpenAiChat, &fixture("openai/chat_tool_calls.json"));
    assert!(full.choices.iter().any(|m| !m.parts.is_empty()));
    assert!(head.choices.iter().all(|m| m.parts.is_empty()));
    assert!(head.usage.input_tokens.is_some() && head.response_id.is_some());
    for body in [
        r#"{"id":"a","id":"b","choices":[{"index":3,"finish_reason":"stop","message":{"role":"assistant","content":"x"}},{"finish_reason":"length"}],"usage":{"prompt_tokens":"7","completion_tokens":1.5}}"#,
        r#"{"choices":[{"index":200,"finish_reason":"stop"}],"x_groq":{"usage":{"prompt_tokens":3}}}"#,
        r#"{"choices":{"index":0},"model":7,"error":{"message":"bad","code":"c"}}"#,
        r#"["chatcmpl-1","gpt-4o",[]]"#,
        r#"{"choices":[{"message":{"content":"unterminated"#,
        "[DONE]",
        "",
    ] {
        check_body(&OpenAiChat, body.as_bytes());
    }
    // A tool call of the wrong shape fails the full decode of the body; the span still
    // gets what the head could read (found by the `codec_openai_chat` fuzz target).
    let (full, head) = check_body(
        &OpenAiChat,
        br#"{"id":"chatcmpl-1","choices":[{"message":{"role":"assistant","tool_calls":["bad"]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5}}"#,
    );
    assert_eq!(full, Generation::default());
    assert_eq!(head.response_id.as_deref(), Some("chatcmpl-1"));
    assert_eq!(head.usage.input_tokens, Some(5));
    assert_eq!(head.choices[0].finish_reason.as_deref(), Some("tool_calls"));
}

#[test]
fn anthropic_head_reads_the_message_without_its_content_blocks() {
    let (full, head) = check_body(
        &AnthropicMessages,
        &fixture("anthropic/message_tool_use.json"),
    );
    assert_eq!(full.choices[0].parts.len(), 2);
    assert!(head.choices[0].parts.is_empty());
    assert_eq!(head.response_id.as_deref(), Some("msg_01Aq9w938a90dw8q"));
    assert_eq!(head.response_model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!(head.choices[0].finish_reason.as_deref(), Some("tool_use"));
    assert_eq!(head.usage.output_tokens, Some(86));
    // Only the content is malformed: the full decode reads nothing, the head the rest.
    let (full, head) = check_body(
        &AnthropicMessages,
        br#"{"type":"message","id":"msg_1","role":"assistant","content":["bad"],"stop_reason":"end_turn","usage":{"input_tokens":3,"cache_read_input_tokens":2}}"#,
    );
    assert_eq!(full, Generation::default());
    assert_eq!(head.response_id.as_deref(), Some("msg_1"));
    assert_eq!(head.usage.input_tokens, Some(5));
    // Stream events and errors given as a body read as the full decode reads them.
    for body in [
        r#"{"type":"message_start","message":{"id":"msg_2","model":"m","role":"assistant","content":[{"type":"text","text":"x"}],"usage":{"input_tokens":4}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}}"#,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        r#"{"type":"message","content":[{"type":"text","text":"unterminated"#,
    ] {
        let (full, _) = check_body(&AnthropicMessages, body.as_bytes());
        assert!(
            body.contains("unterminated") || full != Generation::default(),
            "{body}"
        );
    }
}
