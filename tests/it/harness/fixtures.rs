//! The fixture files (`tests/fixtures/`) and their server-sent events.
//!
//! Events are split by the `eventsource-stream` crate (the library's own dependency), not
//! by a test-side copy of the capture layer's splitter.

use std::sync::Arc;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::{FutureExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

/// The bytes of `tests/fixtures/{path}`.
pub fn fixture(path: &str) -> Bytes {
    let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
}

/// [`fixture`] as text.
pub fn fixture_text(path: &str) -> String {
    String::from_utf8(fixture(path).to_vec()).expect("a UTF-8 fixture")
}

/// The path of `tests/fixtures/tls/{name}`: the test CA (`ca.pem`), the server's
/// certificate (`server.pem`, for `localhost` and 127.0.0.1) and key (`server.key`).
pub fn tls_fixture(name: &str) -> String {
    format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A rustls server configuration with the test certificate, offering `alpn`; built on
/// ring explicitly, so no process-wide crypto provider is needed or installed.
pub fn tls_server_config(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls_fixture("server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_fixture("server.key")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// The `(event name, data)` pairs of an SSE body, as a decoder is handed them: the name
/// is `None` for an unnamed event (`message`), `data:` lines are joined by `\n`.
pub fn sse_events(body: &[u8]) -> Vec<(Option<String>, Vec<u8>)> {
    let whole = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        Bytes::copy_from_slice(body),
    )]);
    let events: Vec<_> = whole
        .eventsource()
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("an in-memory body is ready at once");
    events
        .into_iter()
        .map(|e| {
            let e = e.expect("a well-formed SSE body");
            let name = (e.event != "message").then_some(e.event);
            (name, e.data.into_bytes())
        })
        .collect()
}

/// The JSON payloads of an SSE body; data that is not JSON (`[DONE]`) is skipped, as
/// `docs/endpoint.md` says clients do.
pub fn sse_json(body: &str) -> Vec<Value> {
    sse_events(body.as_bytes())
        .into_iter()
        .filter_map(|(_, data)| serde_json::from_slice(&data).ok())
        .collect()
}

/// The SSE events of a fixture, each with its terminating blank line.
pub fn sse_chunks(name: &str) -> Vec<Bytes> {
    let all = fixture(name);
    let text = std::str::from_utf8(&all).unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = text[start..].find("\n\n") {
        let end = start + i + 2;
        out.push(all.slice(start..end));
        start = end;
    }
    if start < all.len() {
        out.push(all.slice(start..));
    }
    out
}
