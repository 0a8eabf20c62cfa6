//! Detection: which calls are LLM calls, with which codec, operation and provider name;
//! everything else passes through (`None`).

use std::borrow::Cow;
use std::sync::Arc;

use crate::harness::codec::Head;
use humanloop_tracing::provider::{
    Codec, Generation, LlmRequest, Operation, ProviderError, Registry, RequestHead, ResponseDecoder,
};

fn detect(method: &str, url: &str) -> Option<(&'static str, Operation, String)> {
    let head = Head::new(method, url);
    let d = Registry::builtin().detect(&head.head())?;
    Some((d.codec.id(), d.operation, d.provider.into_owned()))
}

fn post(url: &str) -> Option<(&'static str, Operation, String)> {
    detect("POST", url)
}

/// Asserts what each `(url, codec, operation, provider)` POST is detected as.
fn detects(cases: &[(&str, &'static str, Operation, &str)]) {
    for &(url, codec, op, provider) in cases {
        assert_eq!(post(url), is(codec, op, provider), "{url}");
    }
}

fn is(
    codec: &'static str,
    op: Operation,
    provider: &str,
) -> Option<(&'static str, Operation, String)> {
    Some((codec, op, provider.to_owned()))
}

#[test]
fn openai_urls_pick_each_openai_codec_and_operation() {
    use Operation::*;
    detects(&[
        (
            "https://api.openai.com/v1/chat/completions",
            "openai.chat",
            Chat,
            "openai",
        ),
        (
            "https://api.openai.com/v1/responses",
            "openai.responses",
            Chat,
            "openai",
        ),
        (
            "https://api.openai.com/v1/completions",
            "openai.completions",
            TextCompletion,
            "openai",
        ),
        (
            "https://api.openai.com/v1/embeddings",
            "openai.embeddings",
            Embeddings,
            "openai",
        ),
    ]);
}

#[test]
fn anthropic_gemini_and_vertex_urls_pick_their_codec_and_provider() {
    use Operation::*;
    detects(&[
        ("https://api.anthropic.com/v1/messages", "anthropic.messages", Chat, "anthropic"),
        ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent", "gcp.gemini", GenerateContent, "gcp.gemini"),
        ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gcp.gemini", GenerateContent, "gcp.gemini"),
        ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent", "gcp.gemini", GenerateContent, "gcp.vertex_ai"),
        ("https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent", "gcp.gemini", GenerateContent, "gcp.vertex_ai"),
        // Gemini's OpenAI-compatible endpoint is OpenAI chat, named after the host.
        ("https://generativelanguage.googleapis.com/v1beta/openai/chat/completions", "openai.chat", Chat, "gcp.gemini"),
    ]);
}

#[test]
fn azure_deployment_and_v1_urls_are_openai_codecs_named_azure() {
    use Operation::*;
    let base = "https://my-resource.openai.azure.com/openai/deployments/gpt-4o-prod";
    detects(&[
        (format!("{base}/chat/completions?api-version=2024-10-21").as_str(), "openai.chat", Chat, "azure.ai.openai"),
        (format!("{base}/embeddings?api-version=2024-10-21").as_str(), "openai.embeddings", Embeddings, "azure.ai.openai"),
        (format!("{base}/completions?api-version=2024-10-21").as_str(), "openai.completions", TextCompletion, "azure.ai.openai"),
        // The v1 API on an Azure host, and a deployment path behind a gateway host.
        ("https://my-resource.openai.azure.com/openai/v1/chat/completions", "openai.chat", Chat, "azure.ai.openai"),
        ("https://my-resource.openai.azure.com/openai/v1/responses", "openai.responses", Chat, "azure.ai.openai"),
        ("https://gateway.internal/openai/deployments/d1/chat/completions?api-version=2024-10-21", "openai.chat", Chat, "azure.ai.openai"),
    ]);
}

#[test]
fn openai_compatible_servers_by_path_and_host() {
    use Operation::*;
    let cases = [
        ("https://api.groq.com/openai/v1/chat/completions", "groq"),
        ("https://api.mistral.ai/v1/chat/completions", "mistral_ai"),
        ("https://api.deepseek.com/chat/completions", "deepseek"),
        ("https://api.deepseek.com/v1/chat/completions", "deepseek"),
        ("https://api.x.ai/v1/chat/completions", "x_ai"),
        (
            "https://api.together.xyz/v1/chat/completions",
            "together_ai",
        ),
        (
            "https://openrouter.ai/api/v1/chat/completions",
            "openrouter",
        ),
        // vLLM, Ollama, LiteLLM on their own hosts: `openai`.
        ("http://localhost:8000/v1/chat/completions", "openai"),
        ("http://127.0.0.1:11434/v1/chat/completions", "openai"),
        ("http://litellm.internal:4000/chat/completions", "openai"),
    ];
    for (url, provider) in cases {
        assert_eq!(post(url), is("openai.chat", Chat, provider), "{url}");
    }
    detects(&[
        (
            "http://localhost:8000/v1/completions",
            "openai.completions",
            TextCompletion,
            "openai",
        ),
        (
            "https://api.mistral.ai/v1/embeddings",
            "openai.embeddings",
            Embeddings,
            "mistral_ai",
        ),
    ]);
}

#[test]
fn server_address_and_port() {
    let head = Head::post("https://api.openai.com/v1/chat/completions");
    let d = Registry::builtin().detect(&head.head()).unwrap();
    assert_eq!(d.server_address.as_deref(), Some("api.openai.com"));
    assert_eq!(d.server_port, Some(443));
    let head = Head::post("http://localhost:11434/v1/chat/completions");
    let d = Registry::builtin().detect(&head.head()).unwrap();
    assert_eq!(d.server_address.as_deref(), Some("localhost"));
    assert_eq!(d.server_port, Some(11434));
}

#[test]
fn non_llm_requests_pass_through() {
    for (method, url) in [
        ("GET", "https://api.openai.com/v1/chat/completions"),
        ("GET", "https://api.openai.com/v1/models"),
        ("GET", "https://api.openai.com/v1/responses/resp_123"),
        ("DELETE", "https://api.openai.com/v1/responses/resp_123"),
        ("POST", "https://api.openai.com/v1/files"),
        ("POST", "https://api.openai.com/v1/images/generations"),
        ("POST", "https://api.openai.com/v1/audio/transcriptions"),
        ("POST", "https://api.openai.com/v1/chat/completions/extra"),
        ("POST", "https://api.anthropic.com/v1/messages/count_tokens"),
        ("POST", "https://api.anthropic.com/v1/messages/batches"),
        ("GET", "https://api.anthropic.com/v1/messages"),
        ("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:countTokens"),
        ("POST", "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:embedContent"),
        ("GET", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"),
        ("POST", "https://example.com/"),
        ("POST", "https://example.com/api/users"),
        ("POST", "https://api.humanloop.com/v4/logs"),
        ("POST", "https://api.humanloop.com/v4/completion-model-config"),
        ("POST", "/relative/path"),
    ] {
        assert_eq!(detect(method, url), None, "{method} {url}");
    }
}

#[test]
fn user_hosts_override_the_table() {
    let mut reg = Registry::builtin();
    reg.add_host("llm.internal", "vllm");
    reg.add_host(".corp.example", "corp_gateway");
    reg.add_host("api.groq.com", "groq_proxy");
    let name = |url: &str| {
        let head = Head::post(url);
        reg.detect(&head.head()).unwrap().provider.into_owned()
    };
    assert_eq!(name("http://llm.internal/v1/chat/completions"), "vllm");
    assert_eq!(name("https://a.b.corp.example/v1/messages"), "corp_gateway");
    assert_eq!(
        name("https://api.groq.com/openai/v1/chat/completions"),
        "groq_proxy"
    );
    assert_eq!(
        name("https://api.mistral.ai/v1/chat/completions"),
        "mistral_ai"
    );
}

/// A user codec for a made-up API, tried before the built-in ones.
struct EchoCodec;

struct NoDecoder;

impl ResponseDecoder for NoDecoder {
    fn on_event(&mut self, _: Option<&str>, _: &[u8]) {}
    fn on_body(&mut self, _: &[u8]) {}
    fn finish(&mut self) -> Generation {
        Generation::default()
    }
}

impl Codec for EchoCodec {
    fn id(&self) -> &'static str {
        "echo"
    }
    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        (head.uri.path() == "/echo" || head.uri.host() == Some("echo.local"))
            .then_some(Operation::Chat)
    }
    fn provider_name(&self, _: &RequestHead<'_>) -> Cow<'static, str> {
        Cow::Borrowed("echo")
    }
    fn decode_request(&self, _: &RequestHead<'_>, _: &[u8]) -> LlmRequest {
        LlmRequest::empty(Operation::Chat)
    }
    fn response_decoder(&self, _: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(NoDecoder)
    }
    fn decode_error(&self, _: &[u8]) -> Option<ProviderError> {
        None
    }
}

#[test]
fn user_codecs_come_first() {
    let mut reg = Registry::builtin();
    reg.add_codec(Arc::new(EchoCodec));
    let head = Head::post("http://localhost/echo");
    assert_eq!(reg.detect(&head.head()).unwrap().codec.id(), "echo");
    let head = Head::post("http://echo.local/v1/chat/completions");
    assert_eq!(reg.detect(&head.head()).unwrap().codec.id(), "echo");
    let head = Head::post("http://localhost/v1/chat/completions");
    assert_eq!(reg.detect(&head.head()).unwrap().codec.id(), "openai.chat");
}
