//! The capture path end to end: a `text/event-stream` body split at fuzzer-chosen points,
//! served by an in-process service behind `hl.layer()`, for an OpenAI chat, an Anthropic
//! and a Gemini URL. The caller must receive exactly the bytes sent and nothing panics
//! (libfuzzer's panic hook aborts even on a panic the layer would contain).
//!
//! Input layout: byte 0 picks the provider, byte 1 the number of cuts (mod 16), then one
//! byte per cut (the distance from the previous cut, 0 gives an empty frame); the rest is
//! the body.
#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use humanloop_tracing::{Config, Humanloop};
use libfuzzer_sys::fuzz_target;
use tower::{ServiceBuilder, ServiceExt};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

const TARGETS: [(&str, &str); 3] = [
    (
        "https://api.openai.com/v1/chat/completions",
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}"#,
    ),
    (
        "https://api.anthropic.com/v1/messages",
        r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hi"}],"stream":true}"#,
    ),
    (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        r#"{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}"#,
    ),
];

struct Env {
    rt: tokio::runtime::Runtime,
    hl: Humanloop,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        // Spans enabled, so the content attributes are built and recorded too.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let hl = rt.block_on(async {
            Humanloop::new(
                Config::builder()
                    .base_url("http://127.0.0.1:9/v4")
                    .max_queue_size(8)
                    .build()
                    .unwrap(),
            )
            .unwrap()
        });
        Env { rt, hl }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (url, req) = TARGETS[data[0] as usize % TARGETS.len()];
    let ncuts = (data[1] % 16) as usize;
    if data.len() < 2 + ncuts {
        return;
    }
    let cuts = &data[2..2 + ncuts];
    let body = Bytes::copy_from_slice(&data[2 + ncuts..]);

    let mut frames = Vec::with_capacity(ncuts + 1);
    let mut at = 0usize;
    for &d in cuts {
        let end = (at + d as usize).min(body.len());
        frames.push(body.slice(at..end));
        at = end;
    }
    frames.push(body.slice(at..));

    let env = env();
    let provider = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
        let stream = futures_util::stream::iter(
            frames
                .clone()
                .into_iter()
                .map(|f| Ok::<_, Infallible>(http_body::Frame::data(f))),
        );
        std::future::ready(Ok::<_, Infallible>(
            http::Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::new(StreamBody::new(stream)))
                .unwrap(),
        ))
    });
    let svc = ServiceBuilder::new()
        .layer(env.hl.layer())
        .service(provider);
    let received = env.rt.block_on(async {
        let request = http::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(req.as_bytes())))
            .unwrap();
        let resp = svc.oneshot(request).await.unwrap();
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "text/event-stream"
        );
        resp.into_body().collect().await.unwrap().to_bytes()
    });
    assert_eq!(
        received, body,
        "the caller must receive exactly the bytes sent"
    );
    assert_eq!(
        humanloop_tracing::hook_panics(),
        0,
        "a codec panicked (contained)"
    );
});
