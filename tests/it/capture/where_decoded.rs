//! Which decoding runs on the caller's thread for a plain call: a codec that notes the
//! thread of each step. With a subscriber recording the span, the heads the span needs
//! (the call is completed there), and with `capture_content` the whole request and
//! response, whose messages the span records; the log's full decode is the exporter's.
//! Without a subscriber, none. (Its own binary: the metrics test shares a global meter provider.)

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use crate::harness::{adapters::*, endpoint::*, otel::*, provider::*};
use humanloop_tracing::provider::{
    Codec, Generation, LlmRequest, OpenAiChat, Operation, ProviderError, RequestHead,
    ResponseDecoder,
};

const CHAT: &str = r#"{"model":"gpt-4o-mini","temperature":0.5,"max_tokens":100,
    "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello!"}]}"#;

/// Where each decoding step ran: `(step, on the caller's thread)`.
type Steps = Arc<Mutex<Vec<(&'static str, bool)>>>;

/// The OpenAI chat codec, noting the thread of every decoding step.
struct Watched {
    caller: std::thread::ThreadId,
    steps: Steps,
}

impl Watched {
    fn note(&self, step: &'static str) {
        let on_caller = std::thread::current().id() == self.caller;
        self.steps.lock().unwrap().push((step, on_caller));
    }
}

struct WatchedDecoder {
    inner: Box<dyn ResponseDecoder>,
    caller: std::thread::ThreadId,
    steps: Steps,
}

impl ResponseDecoder for WatchedDecoder {
    fn on_event(&mut self, event: Option<&str>, data: &[u8]) {
        self.inner.on_event(event, data)
    }
    fn on_body(&mut self, body: &[u8]) {
        let on_caller = std::thread::current().id() == self.caller;
        self.steps.lock().unwrap().push(("on_body", on_caller));
        self.inner.on_body(body)
    }
    fn on_body_head(&mut self, body: &[u8]) {
        let on_caller = std::thread::current().id() == self.caller;
        self.steps.lock().unwrap().push(("on_body_head", on_caller));
        self.inner.on_body_head(body)
    }
    fn finish(&mut self) -> Generation {
        self.inner.finish()
    }
}

impl Codec for Watched {
    fn id(&self) -> &'static str {
        "watched.openai.chat"
    }
    fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
        OpenAiChat.detect(head)
    }
    fn provider_name(&self, head: &RequestHead<'_>) -> Cow<'static, str> {
        OpenAiChat.provider_name(head)
    }
    fn decode_request(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        self.note("decode_request");
        OpenAiChat.decode_request(head, body)
    }
    fn decode_request_head(&self, head: &RequestHead<'_>, body: &[u8]) -> LlmRequest {
        self.note("decode_request_head");
        OpenAiChat.decode_request_head(head, body)
    }
    fn response_decoder(&self, request: &LlmRequest) -> Box<dyn ResponseDecoder> {
        Box::new(WatchedDecoder {
            inner: OpenAiChat.response_decoder(request),
            caller: self.caller,
            steps: self.steps.clone(),
        })
    }
    fn decode_error(&self, body: &[u8]) -> Option<ProviderError> {
        OpenAiChat.decode_error(body)
    }
}

/// The decoding steps of one plain call and the thread each ran on, with or without a
/// subscriber recording the span.
async fn steps_of_one_call(with_subscriber: bool, content: bool) -> Vec<(&'static str, bool)> {
    let server = provider().await;
    let sink = Recorder::start().await;
    let steps = Steps::default();
    let watched = Arc::new(Watched {
        caller: std::thread::current().id(),
        steps: steps.clone(),
    });
    let hl = humanloop(&sink, |b| b.codec(watched).capture_content(content));
    let _otel = with_subscriber.then(otel);
    let req = Req::post(server.url("/v1/chat/completions"), CHAT)
        .header("x-fixture", "openai/chat_basic.json");
    assert_eq!(send(Adapter::Reqwest, &hl, req).await.status, 200);
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(
        logs[0]["output"],
        "\n\nHello there, how may I assist you today?"
    );
    assert_eq!(logs[0]["messages"][1]["content"], "Hello!");
    let steps = steps.lock().unwrap().clone();
    steps
}

/// One test for both cases, one after the other: tracing caches each callsite's interest
/// across threads, and a scoped subscriber created while another test thread registers a
/// callsite can leave it cached as "never" (a race in tracing-core), which would make the
/// span unrecorded and the outcome depend on the other test.
#[tokio::test(flavor = "current_thread")]
async fn the_caller_decodes_only_what_the_span_records() {
    // (a subscriber, capture_content, the steps and their threads, what it shows)
    type Case = (bool, bool, &'static [(&'static str, bool)], &'static str);
    let cases: [Case; 3] = [
        (
            true,
            false,
            &[
                ("decode_request", false),
                ("decode_request_head", true),
                ("on_body", false),
                ("on_body_head", true),
            ],
            "with a subscriber: the span's heads on the caller's thread, the log's full decode on the exporter's",
        ),
        (
            false,
            false,
            &[("decode_request", false), ("on_body", false)],
            "without one: every decoding step on the exporter's thread",
        ),
        (
            true,
            true,
            &[("decode_request", true), ("on_body", true)],
            "with capture_content: the request and the response, whose messages the span records, on the caller's thread",
        ),
    ];
    for (subscriber, content, expected, what) in cases {
        let mut steps = steps_of_one_call(subscriber, content).await;
        steps.sort();
        assert_eq!(steps, expected, "{what}");
    }
}
