//! Completions through the endpoint with a saved model configuration
//! (`POST /completion-model-config`): a plain call with `num_samples = 2`, then the same
//! call streamed, its interleaved samples put back together by index. Both calls are
//! traced and, inside a session, filed under it. Offline: `cargo run --example
//! completion_model_config` (the local endpoint's built-in `mock` provider answers).

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use futures_util::StreamExt;
use humanloop_tracing::api::{CompletionModelConfigRequest, JsonMap};
use humanloop_tracing::session;
use serde_json::{json, Value};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Logged).await?;

    // Save a model configuration on the endpoint (this route is the local endpoint's).
    let config: Value = reqwest::Client::new()
        .post(format!("{}/model-configs", local.endpoint.base_url()))
        .json(&json!({
            "project": "examples",
            "model": "mock-story-1",
            "provider": "mock",
            "prompt_template": "Write one sentence about {{topic}}."
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let config_id = config["config"]["id"].as_str().ok_or("no config id")?;

    let mut inputs = JsonMap::new();
    inputs.insert("topic".into(), json!("the trams of Lisbon"));
    let request = CompletionModelConfigRequest::new(config_id)
        .with_project("examples")
        .with_inputs(inputs)
        .with_num_samples(2u32);

    async {
        // Plain: one answer with both samples.
        let answer = local.hl.client().completion_model_config(&request).await?;
        for item in &answer.data {
            println!(
                "sample {} ({}): {}",
                item.index,
                item.id.as_deref().unwrap_or("?"),
                item.output.as_deref().unwrap_or_default()
            );
        }
        if let Some(usage) = &answer.usage {
            println!("usage: {usage:?}");
        }

        // Streamed: chunks of both samples interleave; print them as they come.
        let mut stream = local
            .hl
            .client()
            .completion_model_config_stream(&request)
            .await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            for item in &chunk.data {
                println!(
                    "  chunk for sample {}: {:?}{}",
                    item.index,
                    item.output.as_deref().unwrap_or_default(),
                    item.finish_reason
                        .as_ref()
                        .map(|r| format!(" (finished: {r})"))
                        .unwrap_or_default()
                );
            }
        }
        // Or let the collector do it:
        let samples = local
            .hl
            .client()
            .completion_model_config_stream(&request)
            .await?
            .collect_samples()
            .await?;
        for s in samples {
            println!(
                "collected sample {}: {} ({:?})",
                s.index, s.output, s.finish_reason
            );
        }
        Ok::<_, local::BoxError>(())
    }
    .instrument(session("story-session"))
    .await?;

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
