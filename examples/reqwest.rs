//! reqwest users: add `hl.middleware()` to a `reqwest_middleware` client; every LLM call
//! becomes a span and a log. Offline: `cargo run --example reqwest`.

#[path = "support/demo_provider.rs"]
mod demo_provider;
#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use humanloop_tracing::Config;
use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start(Config::builder()).await?;
    let hl = &local.hl;
    // Print our GenAI spans to the terminal (any tracing subscriber works; see otlp.rs).
    tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .with_filter(tracing_subscriber::EnvFilter::new("humanloop_tracing=info")),
        )
        .init();

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
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

    hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
