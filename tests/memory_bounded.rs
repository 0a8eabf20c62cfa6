//! Memory stays flat, measured by a counting global allocator (not by time):
//! * 100 000 calls while the endpoint is down: the exporter's queue bound caps what is
//!   held, however many calls come;
//! * a 10 000-chunk stream carrying 10 MB of text: the decoder keeps at most the text cap
//!   (`provider::MAX_TEXT_BYTES`), the caller gets every byte.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::{Config, Humanloop};
use hyper::body::Frame;
use tower::{ServiceBuilder, ServiceExt};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn chat_response() -> Bytes {
    let content = "Lisbon in three days: Alfama, Belém, Sintra. ".repeat(38);
    Bytes::from(
        serde_json::json!({
            "id": "chatcmpl-mem", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 410, "total_tokens": 429}
        })
        .to_string(),
    )
}

const REQUEST: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Plan three days in Lisbon."}]}"#;

fn request() -> http::Request<Full<Bytes>> {
    http::Request::post("https://api.openai.com/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(REQUEST.as_bytes())))
        .unwrap()
}

/// Both checks run in one test: the allocator counts the whole process.
#[test]
fn memory_is_bounded() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(exporter_queue_caps_memory_while_the_endpoint_is_down());
    rt.block_on(a_long_stream_keeps_the_decoder_bounded());
}

#[allow(clippy::field_reassign_with_default)]
async fn exporter_queue_caps_memory_while_the_endpoint_is_down() {
    const QUEUE: usize = 512;
    // RetryPolicy is #[non_exhaustive]: start from the default.
    let mut retry = RetryPolicy::default();
    retry.max_attempts = 1000;
    retry.initial_backoff = Duration::from_secs(30);
    retry.max_backoff = Duration::from_secs(30);
    retry.max_elapsed = Duration::from_secs(3600);
    // Port 9 (discard) has no listener here: every export is refused. The worker keeps
    // retrying one batch with long backoffs while the queue fills and overflows.
    let hl = Humanloop::new(
        Config::builder()
            .base_url("http://127.0.0.1:9/v4")
            .max_queue_size(QUEUE)
            .max_batch_size(64)
            .retry(retry)
            .build()
            .unwrap(),
    )
    .unwrap();
    let body = chat_response();
    let provider = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        let body = body.clone();
        async move {
            Ok::<_, Infallible>(
                http::Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::new(Full::new(body).map_err(|e| match e {})))
                    .unwrap(),
            )
        }
    });
    let svc = ServiceBuilder::new().layer(hl.layer()).service(provider);
    let call = || {
        let svc = svc.clone();
        async move {
            let resp = svc.oneshot(request()).await.unwrap();
            resp.into_body().collect().await.unwrap().to_bytes()
        }
    };

    // Each reading after `flush_spans`: the finisher's queue (bounded on its own, see
    // `capture::finisher`) drained into the exporter's, whose bound is the one under test.
    // Warm-up: the queue fills within the first calls, and the worker turns what it holds
    // into logs (larger than the records) as it gets to them.
    for _ in 0..10_000 {
        call().await;
    }
    hl.flush_spans();
    let warm = LIVE.load(Ordering::Relaxed);
    for _ in 0..40_000 {
        call().await;
    }
    hl.flush_spans();
    let half = LIVE.load(Ordering::Relaxed);
    for _ in 0..50_000 {
        call().await;
    }
    hl.flush_spans();
    let full = LIVE.load(Ordering::Relaxed);

    let stats = hl.stats();
    assert_eq!(stats.sent, 0, "{stats:?}");
    assert!(stats.queued <= QUEUE as u64, "{stats:?}");
    assert!(stats.dropped >= 100_000 - QUEUE as u64 - 64, "{stats:?}");
    // Whatever the queue holds was held by 10 000 calls already; 90 000 more add nothing.
    let growth = full.saturating_sub(warm);
    assert!(
        growth < 2 * MIB,
        "live heap grew by {growth} bytes over 90 000 calls (warm {warm}, half {half}, full {full})"
    );
    assert!(
        full.saturating_sub(half) < MIB,
        "still growing: half {half}, full {full}"
    );
    drop(svc);
    let _ = hl.shutdown(Duration::from_millis(100)).await;
}

async fn a_long_stream_keeps_the_decoder_bounded() {
    const CHUNKS: usize = 10_000;
    let hl = Humanloop::new(
        Config::builder()
            .base_url("http://127.0.0.1:9/v4")
            .retry(RetryPolicy::none())
            .build()
            .unwrap(),
    )
    .unwrap();
    // Each event carries 1 KB of text: 10 MB in all.
    let provider = tower::service_fn(|_req: http::Request<Full<Bytes>>| async {
        let text = "x".repeat(1000);
        let frames = (0..CHUNKS)
            .map(move |_| {
                Ok::<_, Infallible>(Frame::data(Bytes::from(format!(
                    "data: {{\"id\":\"chatcmpl-long\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n"
                ))))
            })
            .chain(std::iter::once(Ok(Frame::data(Bytes::from_static(
                b"data: [DONE]\n\n",
            )))));
        Ok::<_, Infallible>(
            http::Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::new(StreamBody::new(futures_util::stream::iter(
                    frames,
                ))))
                .unwrap(),
        )
    });
    let svc = ServiceBuilder::new().layer(hl.layer()).service(provider);
    let stream_request = http::Request::post("https://api.openai.com/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Go on."}]}"#,
        )))
        .unwrap();

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let resp = svc.oneshot(stream_request).await.unwrap();
    let mut body = resp.into_body();
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            received += data.len(); // dropped at once: the caller keeps nothing
        }
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(received > 10 * 1000 * 1000, "received {received}");
    // The decoder keeps at most MAX_TEXT_BYTES of text; the finished log copies it a few
    // times (output, output message, provider response). 10 MB went through.
    let bound = 6 * humanloop_tracing::provider::MAX_TEXT_BYTES;
    assert!(
        peak < bound,
        "peak live heap during a {received}-byte stream grew by {peak} bytes (bound {bound})"
    );
    let _ = hl.shutdown(Duration::from_millis(100)).await;
}
