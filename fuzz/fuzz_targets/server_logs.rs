//! The endpoint's request decoding: arbitrary bodies to `POST /v4/logs`,
//! `POST /v4/completion-model-config` and `PATCH /v4/logs?reference_id=x`, in process
//! (`tower::ServiceExt::oneshot`, no listener). Never a panic, never a 5xx other than
//! 502 (the provider behind completion-model-config; here a closed local port).
//!
//! Input layout: byte 0 picks the route; the rest is the body.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use humanloop_tracing::server::{router, ServerConfig, ServerState};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Env {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(async {
            let config = ServerConfig::in_memory()
                .openai_base_url("http://127.0.0.1:9/v1")
                .anthropic_base_url("http://127.0.0.1:9/v1");
            router(ServerState::open(&config).unwrap())
        });
        Env { rt, app }
    })
}

const ROUTES: [(&str, &str); 3] = [
    ("POST", "/v4/logs"),
    ("POST", "/v4/completion-model-config"),
    ("PATCH", "/v4/logs?reference_id=x"),
];

/// Whether the body might name a `base_url` as the server reads it: the bytes spell it,
/// or it is JSON with such a key (escapes decoded), or it is not JSON we can read and
/// has escapes that might spell it.
fn names_a_base_url(body: &[u8]) -> bool {
    if body.windows(8).any(|w| w == b"base_url") {
        return true;
    }
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => m.iter().any(|(k, v)| k == "base_url" || walk(v)),
            serde_json::Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => walk(&v),
        Err(_) => body.windows(2).any(|w| w == b"\\u"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let (method, path) = ROUTES[sel as usize % ROUTES.len()];
    if names_a_base_url(body) {
        // A model config's `other.base_url` points the completion route at any host:
        // keep all traffic on the closed local port configured above.
        return;
    }
    let env = env();
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let status = env
        .rt
        .block_on(env.app.clone().oneshot(request))
        .unwrap()
        .status();
    assert!(
        !status.is_server_error() || status == http::StatusCode::BAD_GATEWAY,
        "{method} {path}: {status}"
    );
});
