//! No input makes the proxy panic (the fuzz target `proxy_request` drives the same path
//! where nightly is available): arbitrary methods, paths, queries, headers (hierarchy
//! headers, `baggage`, `traceparent`, hop-by-hop lists and lengths included) and bodies
//! through the router get a response, one of 200 (an echoing upstream), 400, 404, 413 or
//! 502 (a closed port); a 200 carries the request body back unchanged.

mod proxy_support;

use axum::body::Body;
use http_body_util::BodyExt;
use proptest::prelude::*;
use proxy_support::{closed_port, upstream_fn};
use tower::ServiceExt;

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("baggage".to_owned()),
        Just("traceparent".to_owned()),
        Just("connection".to_owned()),
        Just("content-length".to_owned()),
        Just("content-type".to_owned()),
        Just("transfer-encoding".to_owned()),
        Just("humanloop-session-reference-id".to_owned()),
        Just("humanloop-parent-reference-id".to_owned()),
        "humanloop-metadata-[a-z-]{0,8}",
        "[a-z][a-z0-9-]{0,12}",
    ]
}

fn request() -> impl Strategy<Value = (String, String, Vec<(String, Vec<u8>)>, Vec<u8>)> {
    (
        prop_oneof![Just("POST".to_owned()), Just("GET".to_owned()), "[A-Z]{1,7}"],
        prop_oneof![
            Just("/openai/v1/chat/completions".to_owned()),
            Just("/echo/v1/chat/completions".to_owned()),
            Just("/echo/v1/messages".to_owned()),
            "/(echo|openai|x)?[/a-zA-Z0-9%._~?=&-]{0,40}",
            "\\PC{0,30}",
        ],
        prop::collection::vec((header_name(), prop::collection::vec(any::<u8>(), 0..40)), 0..8),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            Just(br#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#.to_vec()),
            Just(br#"{"model":"claude","max_tokens":1,"messages":[]}"#.to_vec()),
        ],
    )
}

#[test]
fn proxy_never_panics() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dead = closed_port();
    let stack = rt.block_on(async {
        let (echo, _seen) = upstream_fn(|seen| async move {
            let mut r = axum::response::Response::new(Body::from(seen.body));
            if let Some(ct) = seen.headers.get("content-type") {
                r.headers_mut().insert("content-type", ct.clone());
            }
            r
        })
        .await;
        proxy_support::start(|c| {
            c.upstream(&format!("echo={echo}/v1"))
                .unwrap()
                .upstream(&format!("openai=http://127.0.0.1:{dead}/v1"))
                .unwrap()
                .body_limit(200)
        })
        .await
    });
    let router = stack.proxy.router();
    let config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((method, path, headers, body) in request())| {
        let Ok(method) = http::Method::from_bytes(method.as_bytes()) else { return Ok(()) };
        let Ok(uri) = http::Uri::try_from(path.as_str()) else { return Ok(()) };
        let mut req = http::Request::new(Body::from(body.clone()));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(&value),
            ) {
                req.headers_mut().append(n, v);
            }
        }
        let routed_to_echo = req.uri().path().starts_with("/echo");
        let (status, got) = rt.block_on(async {
            let resp = router.clone().oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.into_body().collect().await.unwrap().to_bytes())
        });
        prop_assert!([200, 400, 404, 413, 502].contains(&status), "status {}", status);
        if status == 200 {
            prop_assert!(routed_to_echo);
            prop_assert_eq!(&got[..], &body[..]);
        }
    });
    assert_eq!(humanloop_tracing::hook_panics(), 0);
}
