//! rig users: give rig a `reqwest_middleware` client with `local.hl.middleware()` through
//! rig-reqwest's `ReqwestMiddlewareClient`. rig's own `chat` span stays the inference
//! span; the crate's span under it carries no usage, so tokens are counted once.
//! Offline: `cargo run --example rig`.

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use rig_core::completion::CompletionRequest;
use rig_core::providers::openai::OpenAIConfig;
use rig_reqwest::ReqwestMiddlewareClient;

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Logged).await?;

    // The three lines.
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(local.hl.middleware())
        .build();
    let openai = OpenAIConfig::new("sk-demo")
        .with_base_url(local.provider.as_str())
        .connect(ReqwestMiddlewareClient::from(http));

    let model = openai.chat("gpt-4o-mini");
    let reply = model
        .call(CompletionRequest::from("What's the weather in Lisbon?"))
        .await?;
    println!("answer: {}", reply.text());

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
