//! reqwest users: add `local.hl.middleware()` to a `reqwest_middleware` client; every LLM call
//! becomes a span and a log. Offline: `cargo run --example reqwest`.

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Printed).await?;

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(local.hl.middleware())
        .build();
    let answer: Value = http
        .post(format!("{}/chat/completions", local.provider))
        .bearer_auth("sk-demo")
        .json(&json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "What's the weather in Lisbon?"}]
        }))
        .send()
        .await?
        .json()
        .await?;
    println!("answer: {}", answer["choices"][0]["message"]["content"]);

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
