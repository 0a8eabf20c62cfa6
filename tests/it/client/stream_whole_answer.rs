//! A server that ignores `stream: true` and answers with one JSON response is accepted:
//! the stream yields that response as its only chunk, and the samples are whole.

use crate::harness::raw::collected;
use crate::harness::raw::{client, RawServer, Reply};
use futures_util::StreamExt;
use humanloop_tracing::api::{CompletionModelConfigRequest, FinishReason};
use serde_json::json;

fn whole() -> Reply {
    Reply::json(
        200,
        json!({
            "data": [
                {"id": "data_a", "index": 0, "output": "one", "finish_reason": "stop"},
                {"id": "data_b", "index": 1, "output": "two", "finish_reason": null}
            ],
            "provider_responses": [],
            "num_samples": 2
        }),
    )
}

fn request() -> CompletionModelConfigRequest {
    CompletionModelConfigRequest::new("config_abc").with_num_samples(2u32)
}

#[tokio::test]
async fn one_json_answer_is_one_chunk() {
    let server = RawServer::start(vec![whole()]).await;
    let mut stream = client(&server.base_url())
        .completion_model_config_stream(&request())
        .await
        .unwrap();
    let chunk = stream.next().await.unwrap().unwrap();
    assert_eq!(chunk.data.len(), 2);
    // No "ended early" error: a null finish_reason in a whole answer is not a cut.
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn its_samples_collect() {
    let server = RawServer::start(vec![whole()]).await;
    let samples = collected(&client(&server.base_url()), &request()).await;
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].output, "one");
    assert_eq!(samples[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(samples[1].output, "two");
    assert_eq!(samples[1].finish_reason, None);
}
