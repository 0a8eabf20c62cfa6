//! async-openai users (its `middleware` feature): hand `local.hl.async_openai_service(..)` to
//! `Client::with_http_service`; every call, plain or streamed, becomes a span and a log,
//! and async-openai's retries of one call are logged as linked attempts.
//! Offline: `cargo run --example async_openai --features async-openai`.

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Logged).await?;

    // The three lines.
    let config = OpenAIConfig::new()
        .with_api_base(&local.provider)
        .with_api_key("sk-demo");
    let client = Client::with_config(config)
        .with_http_service(local.hl.async_openai_service(reqwest::Client::new()));

    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("What's the weather in Lisbon?")
            .build()?
            .into()])
        .build()?;
    let answer = client.chat().create(request.clone()).await?;
    println!("answer: {:?}", answer.choices[0].message.content);

    let mut stream = client.chat().create_stream(request).await?;
    print!("streamed: ");
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            print!("{}", choice.delta.content.unwrap_or_default());
        }
    }
    println!();

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
