//! A streamed response reaches the caller chunk by chunk, as the server sends it: the
//! caller holds the first chunk while the server has not yet been given the second.

use std::time::Duration;

use crate::harness::{adapters::*, endpoint::*, fixtures::*, otel::*};
use opentelemetry::Value;

#[tokio::test(flavor = "current_thread")]
async fn first_chunk_arrives_before_the_server_sends_the_second() {
    let sink = Recorder::start().await;
    let chunks = sse_chunks("openai/chat_stream_include_usage.sse");
    assert!(chunks.len() > 3);
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b);
        let server = stream_server("text/event-stream").await;
        let url = format!("http://{}/v1/chat/completions", server.addr);
        let body =
            r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;

        // The server has been given exactly one chunk when the caller starts reading.
        server.chunks.send(chunks[0].clone()).await.unwrap();
        let (status, mut stream) = tokio::time::timeout(
            Duration::from_secs(10),
            open(adapter, &hl, Req::post(url, body)),
        )
        .await
        .expect("the response head never arrived");
        assert_eq!(status, 200);
        let first =
            tokio::time::timeout(Duration::from_secs(10), stream.read_exact(chunks[0].len()))
                .await
                .expect("the first chunk was held back until more data came");
        assert_eq!(first, chunks[0], "{adapter:?}");

        // The rest, 50 ms apart, each read before the next is sent.
        let mut received = first.to_vec();
        for chunk in &chunks[1..] {
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.chunks.send(chunk.clone()).await.unwrap();
            let got = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(chunk.len()))
                .await
                .expect("a chunk was held back");
            assert_eq!(&got, chunk, "{adapter:?}");
            received.extend_from_slice(&got);
        }
        drop(server.chunks);
        assert_eq!(stream.next().await, None);
        assert_eq!(received, fixture("openai/chat_stream_include_usage.sse"));

        let span = otel.genai_span();
        let a = attrs(&span);
        assert!(!is_error(&span), "{adapter:?}: {a:#?}");
        let Some(Value::F64(ttfc)) = a.get("gen_ai.response.time_to_first_chunk") else {
            panic!("{adapter:?}: no time to first chunk in {a:#?}");
        };
        let total = span.end_time.duration_since(span.start_time).unwrap();
        // The first chunk came before the 50 ms pauses: strictly less than the whole call.
        assert!(*ttfc < total.as_secs_f64(), "{ttfc} vs {total:?}");
        assert_eq!(a.get("gen_ai.usage.output_tokens"), Some(&i(5)));
    }
}
