//! Exporter lifecycle: `shutdown` with a deadline delivers a large queue in full; the handle
//! works from a plain thread, a current-thread runtime and a multi-thread runtime; user
//! hooks that panic (redaction, `on_log`, a custom codec) are contained and counted and the
//! caller still gets the provider's bytes.

use crate::harness::endpoint::handle;
use crate::harness::faults::{call, traced_client};
use crate::harness::provider::chat_provider;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::harness::endpoint::Recorder;
use humanloop_tracing::api::{LogRequest, ToolConfig};
use humanloop_tracing::provider::{
    Codec, Generation, LlmRequest, Operation, ProviderError, RequestHead, ResponseDecoder,
};
use humanloop_tracing::{hook_panics, Humanloop};

fn record(i: usize) -> LogRequest {
    LogRequest::default()
        .with_reference_id(format!("life-{i}"))
        .with_config(ToolConfig::new("lifecycle"))
        .with_output(format!("record {i}"))
}

/// Reference ids delivered (each at most once).
fn delivered(rec: &Recorder) -> HashSet<String> {
    let mut set = HashSet::new();
    for r in rec.requests().iter().filter(|r| r.method == "POST") {
        for l in r.body.as_array().unwrap() {
            let id = l["reference_id"].as_str().unwrap().to_owned();
            assert!(set.insert(id), "a record was delivered twice");
        }
    }
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_ten_thousand_queued_records() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config().max_queue_size(10_000));
    for i in 0..10_000 {
        assert!(hl.log(record(i)), "record {i} accepted");
    }
    hl.shutdown(Duration::from_secs(60)).await.unwrap();
    let stats = hl.stats();
    assert_eq!(
        (stats.sent, stats.dropped, stats.failed, stats.queued),
        (10_000, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(delivered(&rec).len(), 10_000);
}

#[test]
fn handle_created_on_a_plain_thread() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rec = rt.block_on(Recorder::start());
    let config = rec.config().build().unwrap();
    // No runtime on this thread at all.
    let stats = std::thread::spawn(move || {
        assert!(tokio::runtime::Handle::try_current().is_err());
        let hl = Humanloop::new(config).unwrap();
        for i in 0..10 {
            assert!(hl.log(record(i)));
        }
        hl.shutdown_blocking(Duration::from_secs(10)).unwrap();
        hl.stats()
    })
    .join()
    .unwrap();
    assert_eq!((stats.sent, stats.queued), (10, 0));
    assert_eq!(delivered(&rec).len(), 10);
}

#[tokio::test(flavor = "current_thread")]
async fn handle_created_inside_a_current_thread_runtime() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config());
    for i in 0..10 {
        assert!(hl.log(record(i)));
    }
    // The endpoint runs on this same single thread: awaiting must not starve it.
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(hl.stats().sent, 10);
    assert_eq!(delivered(&rec).len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_created_inside_a_multi_thread_runtime() {
    let rec = Recorder::start().await;
    let hl = handle(rec.config());
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let hl = hl.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    assert!(hl.log(record(t * 100 + i)));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(hl.stats().sent, 100);
    assert_eq!(delivered(&rec).len(), 100);
}

/// A user codec that recognises `/panicky/chat` and panics in everything it decodes.
struct PanickyCodec;

struct PanickyDecoder;

impl ResponseDecoder for PanickyDecoder {
    fn on_event(&mut self, _: Option<&str>, _: &[u8]) {
        panic!("user decoder: on_event");
    }
    fn on_body(&mut self, _: &[u8]) {
        panic!("user decoder: on_body");
    }
    fn finish(&mut self) -> Generation {
        panic!("user decoder: finish");
    }
}

impl Codec for PanickyCodec {
    fn id(&self) -> &'static str {
        "test.panicky"
    }
    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        head.uri
            .path()
            .ends_with("/panicky/chat")
            .then_some(Operation::Chat)
    }
    fn provider_name(&self, _: &RequestHead<'_>) -> Cow<'static, str> {
        Cow::Borrowed("panicky")
    }
    fn decode_request(&self, _: &RequestHead<'_>, _: &[u8]) -> LlmRequest {
        panic!("user codec: decode_request");
    }
    fn response_decoder(&self, _: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(PanickyDecoder)
    }
    fn decode_error(&self, _: &[u8]) -> Option<ProviderError> {
        panic!("user codec: decode_error");
    }
}

#[tokio::test]
async fn panicking_user_hooks_are_contained_and_counted() {
    let rec = Recorder::start().await;
    let provider = chat_provider().await;
    let (openai, panicky) = (
        provider.url("/v1/chat/completions"),
        provider.url("/panicky/chat"),
    );
    let hl = handle(
        rec.config()
            .redact(|_| panic!("user redaction hook"))
            .on_log(|_| panic!("user on_log hook"))
            .codec(Arc::new(PanickyCodec)),
    );
    let (_guard, http) = traced_client(&hl);
    let before = hook_panics();

    // The redaction and on_log hooks run for a built-in codec's call.
    call(&http, &openai).await;
    hl.flush(Duration::from_secs(10)).await.unwrap();
    let after_hooks = hook_panics();
    assert!(after_hooks > before, "the hooks' panics are counted");

    // The user codec panics while decoding; the caller still gets the provider's bytes.
    call(&http, &panicky).await;
    hl.shutdown(Duration::from_secs(10)).await.unwrap();
    assert!(
        hook_panics() > after_hooks,
        "the codec's panics are counted"
    );
    let stats = hl.stats();
    assert_eq!(stats.queued, 0, "{stats:?}");
}
