//! Fault: the endpoint's TLS handshake fails (a rustls server on 127.0.0.1 with the test
//! certificate from `tests/fixtures/tls/`, whose CA the exporter does not trust). A
//! handshake failure is an outage like any other (a certificate can be renewed): the
//! exporter keeps the records, probes one handshake at a time and counts every retry; a
//! shutdown whose deadline passes says how many records were not delivered; the caller's
//! LLM calls complete with the provider's bytes throughout.

use crate::harness::endpoint::{assert_stats, assert_undelivered};
use crate::harness::faults::traced_client;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::faults::{call, until};
use crate::harness::fixtures::tls_server_config;
use crate::harness::provider::chat_url;

/// A TLS server counting connections (each one a failed handshake here); its port.
fn start_tls_server(connections: Arc<AtomicU64>) -> u16 {
    let config = tls_server_config(&[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            connections.fetch_add(1, Ordering::SeqCst);
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut chunk = [0u8; 1024];
            // The client rejects the certificate: the handshake ends here.
            while let Ok(n) = tls.read(&mut chunk) {
                if n == 0 {
                    break;
                }
            }
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_failure_is_an_outage_and_never_reaches_the_caller() {
    let connections = Arc::new(AtomicU64::new(0));
    let port = start_tls_server(connections.clone());
    let url = chat_url().await;
    let hl = crate::harness::faults::small_queue_humanloop(format!("https://127.0.0.1:{port}/v4"));
    let (_guard, http) = traced_client(&hl);

    call(&http, &url).await;
    until("a handshake", || connections.load(Ordering::SeqCst) >= 1).await;
    call(&http, &url).await;
    call(&http, &url).await;
    assert_eq!(hl.stats().sent, 0);
    assert!(hl.stats().queued <= 16);
    until("a second handshake", || {
        connections.load(Ordering::SeqCst) >= 2
    })
    .await;
    let err = hl.shutdown(Duration::from_secs(1)).await.unwrap_err();
    assert_undelivered(&err, (3, 0, 0));
    assert!(err.to_string().contains("certificate"), "{err}");

    let stats = assert_stats(
        &hl,
        &[("sent", 0), ("failed", 0), ("dropped", 3), ("queued", 0)],
    );
    // Every handshake was one attempt; each but possibly the last (cut by the deadline)
    // was counted as a retry.
    let handshakes = connections.load(Ordering::SeqCst);
    assert!(
        stats.retried == handshakes || stats.retried + 1 == handshakes,
        "{handshakes} handshakes, {stats:?}"
    );
}
