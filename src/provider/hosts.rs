//! The built-in host → `gen_ai.provider.name` table.
//!
//! OpenAI-compatible servers are recognised by path on any host; this table names the
//! well-known ones. Users add their own with [`Registry::add_host`](super::Registry::add_host),
//! which is consulted first.

use super::host_matches;

/// Known hosts (exact, or a suffix starting with `.`) and the provider behind them.
pub const BUILTIN_HOSTS: &[(&str, &str)] = &[
    ("api.openai.com", "openai"),
    ("api.anthropic.com", "anthropic"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    (".aiplatform.googleapis.com", "gcp.vertex_ai"),
    (".openai.azure.com", "azure.ai.openai"),
    (".cognitiveservices.azure.com", "azure.ai.openai"),
    (".services.ai.azure.com", "azure.ai.inference"),
    (".models.ai.azure.com", "azure.ai.inference"),
    ("models.inference.ai.azure.com", "azure.ai.inference"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "x_ai"),
    ("api.together.xyz", "together_ai"),
    ("api.together.ai", "together_ai"),
    ("openrouter.ai", "openrouter"),
    ("api.fireworks.ai", "fireworks_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.cohere.ai", "cohere"),
    ("api.cohere.com", "cohere"),
    ("api.cerebras.ai", "cerebras"),
    ("api.deepinfra.com", "deepinfra"),
    ("integrate.api.nvidia.com", "nvidia_nim"),
    ("api.moonshot.ai", "moonshot"),
    (".bedrock-runtime.amazonaws.com", "aws.bedrock"),
    (".bedrock-mantle.amazonaws.com", "aws.bedrock"),
];

/// The provider name of a known host, if any.
///
/// ```
/// use humanloop_tracing::provider::hosts::provider_for_host;
/// assert_eq!(provider_for_host("api.groq.com"), Some("groq"));
/// assert_eq!(provider_for_host("my-res.openai.azure.com"), Some("azure.ai.openai"));
/// assert_eq!(provider_for_host("localhost"), None);
/// ```
pub fn provider_for_host(host: &str) -> Option<&'static str> {
    BUILTIN_HOSTS
        .iter()
        .find(|(pattern, _)| host_matches(host, pattern))
        .map(|(_, p)| *p)
}
