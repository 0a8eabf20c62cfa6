//! Streaming: the caller reads server-sent events as they arrive while the middleware
//! tees them into the decoder; the span records time to first chunk and the joined
//! output, and a stream dropped early still ends its span (`error.type = cancelled`).
//! Offline: `cargo run --example streaming`.

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Printed).await?;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(local.hl.middleware())
        .build();
    let url = format!("{}/chat/completions", local.provider);
    let request = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Summarise a Lisbon trip."}],
        "stream": true,
        "stream_options": {"include_usage": true}
    });

    let send = || http.post(&url).bearer_auth("sk-demo").json(&request).send();

    // 1. Read the whole stream, chunk by chunk, as it arrives.
    let resp = send().await?;
    let mut events = eventsource_stream::EventStream::new(resp.bytes_stream());
    print!("streamed: ");
    while let Some(event) = events.next().await {
        let event = event?;
        if event.data == "[DONE]" {
            break;
        }
        let chunk: serde_json::Value = serde_json::from_str(&event.data)?;
        if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str() {
            print!("{text}");
        }
    }
    println!();

    // 2. Stop reading after three chunks: the span still ends, marked cancelled, with
    //    the partial output in the log.
    let resp = send().await?;
    let mut body = resp.bytes_stream();
    for _ in 0..3 {
        body.next().await;
    }
    drop(body);
    println!("dropped the second stream after three chunks");

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
