//! Bad input never hurts the caller: whatever the request or the response holds (not
//! JSON, invalid UTF-8, a cut or malformed stream, unknown events, a compressed or a
//! huge body) the bytes pass through untouched, nothing panics, the caller sees no new
//! error, and the call is still traced with what could be read.

use crate::harness::{adapters::*, endpoint::*, fixtures::*, otel::*};
use bytes::Bytes;
use opentelemetry::Value;

const CHAT: &str = r#"{"model":"gpt-4o-mini","stream":true,"messages":[]}"#;

/// Serve `body` with `headers`, send `request` through `adapter`; the caller must get
/// exactly `body`; returns the span's attributes.
async fn roundtrip(
    adapter: Adapter,
    headers: Vec<(&'static str, &'static str)>,
    body: Bytes,
    request: impl Into<Bytes>,
    configure: fn(humanloop_tracing::ConfigBuilder) -> humanloop_tracing::ConfigBuilder,
) -> std::collections::HashMap<String, Value> {
    let otel = otel();
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, configure);
    let addr = serve_bytes(200, headers, body.clone(), 7).await;
    let got = send(
        adapter,
        &hl,
        Req::post(format!("http://{addr}/v1/chat/completions"), request),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, body, "{adapter:?}: bytes changed");
    attrs(&otel.genai_span())
}

const JSON: (&str, &str) = ("content-type", "application/json");
const SSE: (&str, &str) = ("content-type", "text/event-stream");

#[tokio::test(flavor = "current_thread")]
async fn a_request_body_that_is_not_json_is_traced_without_details() {
    for adapter in ADAPTERS {
        for request in [&b"not json {"[..], &[0xff, 0xfe, 0x00, 0x7b][..]] {
            let a = roundtrip(
                adapter,
                vec![JSON],
                fixture("openai/chat_basic.json"),
                Bytes::copy_from_slice(request),
                |b| b,
            )
            .await;
            assert!(!a.contains_key("gen_ai.request.model"));
            assert_eq!(a.get("gen_ai.response.id"), Some(&s("chatcmpl-123")));
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_invalid_utf8_response_passes_through() {
    for adapter in ADAPTERS {
        let body = Bytes::from_static(&[0xff, 0xfe, b'{', 0xc3, 0x28, b'"', b'}']);
        let a = roundtrip(adapter, vec![JSON], body.clone(), CHAT, |b| b).await;
        assert!(!a.contains_key("gen_ai.response.id"));
        let a = roundtrip(adapter, vec![SSE], body, CHAT, |b| b).await;
        assert!(!a.contains_key("gen_ai.response.id"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_cut_stream_keeps_what_arrived() {
    let full = fixture("openai/chat_stream_include_usage.sse");
    // Cut in the middle of the fourth event.
    let third = full
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"\n\n")
        .nth(2)
        .unwrap()
        .0;
    let cut = full.slice(..third + 40);
    for adapter in ADAPTERS {
        let a = roundtrip(adapter, vec![SSE], cut.clone(), CHAT, |b| {
            b.capture_content(true)
        })
        .await;
        assert_eq!(a.get("gen_ai.response.id"), Some(&s("chatcmpl-123")));
        let Some(Value::String(out)) = a.get("gen_ai.output.messages") else {
            panic!("no output in {a:#?}");
        };
        assert!(out.as_str().contains("Hello!"), "{}", out.as_str());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn crlf_streams_decode_like_lf_streams() {
    let crlf = String::from_utf8(fixture("openai/chat_stream_include_usage.sse").to_vec())
        .unwrap()
        .replace('\n', "\r\n");
    for adapter in ADAPTERS {
        let a = roundtrip(adapter, vec![SSE], crlf.clone().into(), CHAT, |b| b).await;
        assert_eq!(a.get("gen_ai.usage.output_tokens"), Some(&i(5)));
        assert_eq!(
            a.get("gen_ai.response.finish_reasons"),
            Some(&strings(&["stop"]))
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn malformed_events_and_unknown_event_types_are_ignored() {
    let mut body = b"data: {not json\n\n: a comment\n\nevent: mystery\ndata: {\"type\":\"mystery\"}\n\ndata: [1,2\n\nretry: 5\nid: 9\n\n".to_vec();
    body.extend_from_slice(&fixture("openai/chat_stream_include_usage.sse"));
    body.extend_from_slice(b"data: {\"choices\": 7}\n\ndata: \xff\xfe\n\n");
    for adapter in ADAPTERS {
        let a = roundtrip(adapter, vec![SSE], body.clone().into(), CHAT, |b| b).await;
        assert_eq!(a.get("gen_ai.usage.input_tokens"), Some(&i(9)), "{a:#?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_compressed_body_is_passed_through_and_not_decoded() {
    // A gzip member header and some deflate bytes: the layer must not try to read it.
    let gz = Bytes::from_static(&[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0x56, 0xca, 0x4c, 0x51,
        0xb2, 0x52, 0x50, 0xaa, 0x05, 0x00,
    ]);
    for adapter in ADAPTERS {
        let a = roundtrip(
            adapter,
            vec![JSON, ("content-encoding", "gzip")],
            gz.clone(),
            CHAT,
            |b| b,
        )
        .await;
        assert_eq!(a.get("gen_ai.request.model"), Some(&s("gpt-4o-mini")));
        assert!(!a.contains_key("gen_ai.response.id"));
        assert!(!a.contains_key("error.type"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_past_the_capture_cap_is_traced_and_marked_truncated() {
    let mut big = fixture("openai/chat_basic.json").to_vec();
    big.truncate(big.len() - 2); // drop the closing brace and newline
    big.extend_from_slice(b",\"padding\":\"");
    big.extend(std::iter::repeat_n(b'x', 200_000));
    big.extend_from_slice(b"\"}\n");
    for adapter in ADAPTERS {
        let a = roundtrip(adapter, vec![JSON], big.clone().into(), CHAT, |b| {
            b.max_capture_bytes(4096)
        })
        .await;
        assert_eq!(
            a.get("humanloop.output.truncated"),
            Some(&Value::Bool(true))
        );
        assert!(!is_error_attrs(&a));
    }
    // A stream with an event larger than the cap: the event is skipped, the rest read.
    let mut stream = b"data: {\"pad\":\"".to_vec();
    stream.extend(std::iter::repeat_n(b'y', 100_000));
    stream.extend_from_slice(b"\"}\n\n");
    stream.extend_from_slice(&fixture("openai/chat_stream_include_usage.sse"));
    for adapter in ADAPTERS {
        let a = roundtrip(adapter, vec![SSE], stream.clone().into(), CHAT, |b| {
            b.max_capture_bytes(4096)
        })
        .await;
        assert_eq!(
            a.get("humanloop.output.truncated"),
            Some(&Value::Bool(true))
        );
        assert_eq!(a.get("gen_ai.usage.output_tokens"), Some(&i(5)));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_body_past_the_cap_is_not_read() {
    let mut request = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.to_vec();
    request.extend(std::iter::repeat_n(b'z', 10_000));
    request.extend_from_slice(br#""}]}"#);
    for adapter in ADAPTERS {
        let a = roundtrip(
            adapter,
            vec![JSON],
            fixture("openai/chat_basic.json"),
            request.clone(),
            |b| b.max_capture_bytes(1024),
        )
        .await;
        assert!(!a.contains_key("gen_ai.request.model"));
        assert_eq!(a.get("gen_ai.response.model"), Some(&s("gpt-4o-mini")));
    }
}

fn is_error_attrs(a: &std::collections::HashMap<String, Value>) -> bool {
    a.contains_key("error.type")
}

mod panicking {
    use std::borrow::Cow;

    use humanloop_tracing::provider::{
        Codec, Generation, LlmRequest, Operation, ProviderError, RequestHead, ResponseDecoder,
    };

    /// A user codec with a bug in every decoding method.
    pub struct Buggy;

    struct BuggyDecoder;

    impl ResponseDecoder for BuggyDecoder {
        fn on_event(&mut self, _: Option<&str>, _: &[u8]) {
            panic!("codec bug: on_event")
        }
        fn on_body(&mut self, _: &[u8]) {
            panic!("codec bug: on_body")
        }
        fn finish(&mut self) -> Generation {
            panic!("codec bug: finish")
        }
    }

    impl Codec for Buggy {
        fn id(&self) -> &'static str {
            "test.buggy"
        }
        fn detect(&self, head: &RequestHead<'_>) -> Option<Operation> {
            (head.uri.path() == "/buggy").then_some(Operation::Chat)
        }
        fn provider_name(&self, _: &RequestHead<'_>) -> Cow<'static, str> {
            Cow::Borrowed("buggy")
        }
        fn decode_request(&self, _: &RequestHead<'_>, _: &[u8]) -> LlmRequest {
            panic!("codec bug: decode_request")
        }
        fn response_decoder(&self, _: &LlmRequest) -> Box<dyn ResponseDecoder> {
            Box::new(BuggyDecoder)
        }
        fn decode_error(&self, _: &[u8]) -> Option<ProviderError> {
            panic!("codec bug: decode_error")
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_codec_never_reaches_the_caller() {
    let sink = Recorder::start().await;
    let stream = fixture("openai/chat_stream_include_usage.sse");
    for adapter in ADAPTERS {
        for (headers, body) in [
            (vec![SSE], stream.clone()),
            (vec![JSON], fixture("openai/chat_basic.json")),
        ] {
            let otel = otel();
            let hl = humanloop(&sink, |b| b.codec(std::sync::Arc::new(panicking::Buggy)));
            let before = humanloop_tracing::hook_panics();
            let addr = serve_bytes(200, headers, body.clone(), 11).await;
            let got = send(
                adapter,
                &hl,
                Req::post(format!("http://{addr}/buggy"), CHAT),
            )
            .await;
            assert_eq!(got.body, body, "{adapter:?}");
            let a = attrs(&otel.genai_span());
            assert_eq!(a.get("gen_ai.provider.name"), Some(&s("buggy")));
            assert!(humanloop_tracing::hook_panics() > before);
        }
    }
}
