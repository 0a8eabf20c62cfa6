//! The proxy's request path: arbitrary requests (method, path and query, headers, body)
//! through `Proxy::router()` in process (`tower::ServiceExt::oneshot`, no listener in
//! front), behind `hl.layer()` with the hierarchy layer installed. Upstreams: `echo` (a
//! loopback server answering with the request body) and `dead` (the closed port
//! 127.0.0.1:9), plus the default upstream `dead`; nothing leaves the machine.
//! Never a panic; the status is one of 200, 400, 404, 413, 502; a 200 from `echo` carries
//! the request body back unchanged.
//!
//! Input layout: byte 0 picks the method; then the path line (up to `\n`), header lines
//! `name:value` up to an empty line, and the rest is the body.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use http_body_util::BodyExt;
use humanloop_tracing::proxy::{Proxy, ProxyConfig};
use humanloop_tracing::{Config, Humanloop};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn app() -> &'static axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        runtime().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let echo = listener.local_addr().unwrap();
            let handler = |req: axum::extract::Request| async move {
                let body = req.into_body().collect().await.map(|c| c.to_bytes());
                axum::response::Response::new(Body::from(body.unwrap_or_default()))
            };
            tokio::spawn(async move {
                let _ = axum::serve(listener, axum::Router::new().fallback(handler)).await;
            });
            let hl = Humanloop::new(
                Config::builder()
                    .base_url("http://127.0.0.1:9/v4")
                    .max_queue_size(64)
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let _ = tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(hl.tracing_layer()),
            );
            let config = ProxyConfig::new()
                .upstream(&format!("echo=http://{echo}/v1"))
                .unwrap()
                .upstream("dead=http://127.0.0.1:9/v1")
                .unwrap()
                .upstream("http://127.0.0.1:9")
                .unwrap()
                .body_limit(4096);
            Proxy::new(hl.layer(), config).unwrap().router()
        })
    })
}

const METHODS: [&str; 6] = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let mut lines = rest.splitn(2, |&b| b == b'\n');
    let path = lines.next().unwrap_or_default();
    let mut rest = lines.next().unwrap_or_default();
    let Ok(uri) = http::Uri::try_from(path) else {
        return;
    };
    if uri.scheme().is_some() || uri.authority().is_some() {
        return; // origin-form only, as a server receives it
    }
    let mut req = http::Request::new(Body::empty());
    *req.method_mut() = http::Method::from_bytes(METHODS[m as usize % METHODS.len()].as_bytes()).unwrap();
    *req.uri_mut() = uri;
    loop {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        rest = after;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(&line[..colon]),
            http::HeaderValue::from_bytes(&line[colon + 1..]),
        ) {
            req.headers_mut().append(n, v);
        }
    }
    let body = bytes::Bytes::copy_from_slice(rest);
    *req.body_mut() = Body::from(body.clone());
    let to_echo = req.uri().path().starts_with("/echo/") || req.uri().path() == "/echo";
    // Built outside `block_on`: building it blocks on the runtime itself.
    let app = app().clone();
    let (status, got) = runtime().block_on(async {
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.into_body().collect().await.map(|c| c.to_bytes()))
    });
    assert!([200, 400, 404, 413, 502].contains(&status), "status {status}");
    if status == 200 {
        assert!(to_echo, "only the echo upstream answers 200");
        assert_eq!(got.unwrap(), body, "the echo came back changed");
    }
});
