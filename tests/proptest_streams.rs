//! Property tests of the capture path through `hl.layer()` (in process, no network):
//! (1) every SSE fixture, split into frames at arbitrary points, gives the same GenAI
//! span attributes as the same fixture served in one frame; (2) arbitrary bytes as a
//! response body (event stream or JSON) never panic and reach the caller unchanged.

#[path = "it/harness/mod.rs"]
mod harness;

use harness::endpoint::handle;
use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use harness::{
    fixtures::fixture,
    otel::{attrs, otel},
};
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::{Config, Humanloop};
use hyper::body::Frame;
use proptest::prelude::*;
use proptest::sample::Index;
use tower::{ServiceBuilder, ServiceExt};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#;
const RESPONSES: &str = r#"{"model":"gpt-4o-mini","input":"Hi","stream":true}"#;
const COMPLETIONS: &str =
    r#"{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","stream":true}"#;
const ANTHROPIC: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hi"}],"stream":true}"#;
const GEMINI: &str = r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#;

const OPENAI_CHAT_URL: &str = "https://api.openai.com/v1/chat/completions";
const ANTHROPIC_URL: &str = "https://api.anthropic.com/v1/messages";
const GEMINI_URL: &str = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse";

/// Every SSE fixture with a URL and request body its codec recognises.
const FIXTURES: &[(&str, &str, &str)] = &[
    ("anthropic/stream_basic.sse", ANTHROPIC_URL, ANTHROPIC),
    ("anthropic/stream_error.sse", ANTHROPIC_URL, ANTHROPIC),
    ("anthropic/stream_thinking.sse", ANTHROPIC_URL, ANTHROPIC),
    ("anthropic/stream_tool_use.sse", ANTHROPIC_URL, ANTHROPIC),
    ("anthropic/stream_web_search.sse", ANTHROPIC_URL, ANTHROPIC),
    (
        "azure/chat_stream.sse",
        "https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        CHAT,
    ),
    (
        "compat/groq_stream.sse",
        "https://api.groq.com/openai/v1/chat/completions",
        CHAT,
    ),
    (
        "compat/ollama_stream.sse",
        "http://localhost:11434/v1/chat/completions",
        CHAT,
    ),
    ("gemini/stream_alt_sse.sse", GEMINI_URL, GEMINI),
    ("openai/chat_stream_include_usage.sse", OPENAI_CHAT_URL, CHAT),
    ("openai/chat_stream_n2.sse", OPENAI_CHAT_URL, CHAT),
    ("openai/chat_stream_refusal.sse", OPENAI_CHAT_URL, CHAT),
    ("openai/chat_stream_tool_call.sse", OPENAI_CHAT_URL, CHAT),
    (
        "openai/completions_stream.sse",
        "https://api.openai.com/v1/completions",
        COMPLETIONS,
    ),
    (
        "openai/responses_stream_error.sse",
        "https://api.openai.com/v1/responses",
        RESPONSES,
    ),
    (
        "openai/responses_stream_failed.sse",
        "https://api.openai.com/v1/responses",
        RESPONSES,
    ),
    (
        "openai/responses_stream_function_call.sse",
        "https://api.openai.com/v1/responses",
        RESPONSES,
    ),
    (
        "openai/responses_stream_text.sse",
        "https://api.openai.com/v1/responses",
        RESPONSES,
    ),
];

/// Attributes that differ between two identical calls (timings).
const UNSTABLE: &[&str] = &[
    humanloop_tracing::semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    "busy_ns",
    "idle_ns",
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn humanloop(rt: &tokio::runtime::Runtime) -> Humanloop {
    rt.block_on(async {
        harness::track(handle(
            Config::builder()
                .base_url("http://127.0.0.1:9/v4")
                .max_queue_size(8)
                .capture_content(true),
        ))
    })
}

/// `body` cut at `cuts` (positions, any order, clamped), as frames.
fn split(body: &Bytes, cuts: &[Index]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
    at.sort_unstable();
    let mut frames = Vec::with_capacity(at.len() + 1);
    let mut from = 0;
    for to in at {
        frames.push(body.slice(from..to));
        from = to;
    }
    frames.push(body.slice(from..));
    frames
}

/// One call through the layer to an in-process provider answering with `frames`;
/// returns the bytes the caller received.
async fn call(
    hl: &Humanloop,
    url: &str,
    request: &'static str,
    content_type: &'static str,
    frames: Vec<Bytes>,
) -> Bytes {
    let provider = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        let stream = futures_util::stream::iter(
            frames
                .clone()
                .into_iter()
                .map(|f| Ok::<_, Infallible>(Frame::data(f))),
        );
        std::future::ready(Ok::<_, Infallible>(
            http::Response::builder()
                .header("content-type", content_type)
                .body(Body::new(StreamBody::new(stream)))
                .unwrap(),
        ))
    });
    let svc = ServiceBuilder::new().layer(hl.layer()).service(provider);
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(request.as_bytes())))
        .unwrap();
    let resp = svc.oneshot(req).await.unwrap();
    resp.into_body().collect().await.unwrap().to_bytes()
}

/// The GenAI span attributes of one call of `fixture` served as `frames`.
fn span_attributes(
    rt: &tokio::runtime::Runtime,
    hl: &Humanloop,
    (_, url, request): (&str, &str, &'static str),
    body: &Bytes,
    frames: Vec<Bytes>,
) -> BTreeMap<String, String> {
    let otel = otel();
    let received = rt.block_on(call(hl, url, request, "text/event-stream", frames));
    assert_eq!(&received, body);
    attrs(&otel.genai_span())
        .into_iter()
        .filter(|(k, _)| !UNSTABLE.contains(&k.as_str()))
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

#[test]
fn any_split_of_a_fixture_stream_records_what_the_whole_stream_records() {
    let rt = runtime();
    let hl = humanloop(&rt);
    let fixtures: Vec<_> = FIXTURES
        .iter()
        .map(|&f| {
            let body = fixture(f.0);
            let whole = span_attributes(&rt, &hl, f, &body, vec![body.clone()]);
            // The fixture is decoded at all: the span has output content or an error.
            assert!(
                whole.contains_key("gen_ai.output.messages") || whole.contains_key("error.type"),
                "{}: nothing decoded: {whole:#?}",
                f.0
            );
            (f, body, whole)
        })
        .collect();
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(&prop::collection::vec(any::<Index>(), 0..24), |cuts| {
            for (f, body, whole) in &fixtures {
                let got = span_attributes(&rt, &hl, *f, body, split(body, &cuts));
                prop_assert_eq!(&got, whole, "{} split at {:?}", f.0, cuts);
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(humanloop_tracing::hook_panics(), 0);
}

#[test]
fn arbitrary_response_bytes_reach_the_caller_unchanged() {
    let rt = runtime();
    let hl = humanloop(&rt);
    let _otel = otel(); // spans enabled, so content attributes are built too
    let targets = [
        (OPENAI_CHAT_URL, CHAT),
        (ANTHROPIC_URL, ANTHROPIC),
        (GEMINI_URL, GEMINI),
        ("https://api.openai.com/v1/responses", RESPONSES),
    ];
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        // Mostly event-stream-shaped text, to get past the splitter into the codecs.
        "((event: [a-z_]{0,12}\n)?(data: [ -~]{0,40}\n){0,3}(\r?\n)?){0,16}"
            .prop_map(String::into_bytes),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(
            &(
                0..targets.len(),
                prop::bool::ANY,
                body,
                prop::collection::vec(any::<Index>(), 0..16),
            ),
            |(t, sse, body, cuts)| {
                let (url, request) = targets[t];
                let body = Bytes::from(body);
                let content_type = if sse {
                    "text/event-stream"
                } else {
                    "application/json"
                };
                let received =
                    rt.block_on(call(&hl, url, request, content_type, split(&body, &cuts)));
                prop_assert_eq!(received, body);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(humanloop_tracing::hook_panics(), 0);
}
