//! HTTPS: the client brings its own rustls configuration (ring provider, platform verifier)
//! and never installs a process-wide crypto provider; a private CA can be added; an
//! untrusted certificate is a clear error, not a panic. The server is a rustls server on
//! 127.0.0.1 with the test certificates in `tests/fixtures/tls/`.

#[path = "it/harness/mod.rs"]
mod harness;

use std::io::{Read, Write};
use std::net::TcpListener;

use humanloop_tracing::config::RetryPolicy;
use humanloop_tracing::error::TransportKind;
use humanloop_tracing::{Client, Error};

use harness::fixtures::{tls_fixture, tls_server_config};
use harness::raw::assert_transport;

/// A TLS server answering every request with a session; returns its port.
fn start_tls_server() -> u16 {
    let config = tls_server_config(&[b"http/1.1"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            // A failed handshake (the untrusted-certificate test) ends here.
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            if buf.is_empty() {
                continue;
            }
            let body = br#"{"id":"sesh_tls"}"#;
            let head = format!(
                "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(head.as_bytes());
            let _ = tls.write_all(body);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

#[tokio::test]
async fn https_with_a_private_ca_and_no_global_provider() {
    let port = start_tls_server();
    let client = Client::builder()
        .base_url(format!("https://localhost:{port}/v4"))
        .root_certificate_pem(std::fs::read(tls_fixture("ca.pem")).unwrap())
        .build()
        .unwrap();
    let session = client.create_session().await.unwrap();
    assert_eq!(session.id, "sesh_tls");
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "the library must not install a process-wide provider"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error_not_retried() {
    let port = start_tls_server();
    let client = Client::builder()
        .base_url(format!("https://127.0.0.1:{port}/v4"))
        .retry(RetryPolicy::none())
        .build();
    let client = match client {
        Ok(c) => c,
        // A machine without any CA certificates cannot verify anything: that is said.
        Err(e @ Error::Setup { .. }) => {
            assert!(e.to_string().contains("CA certificates"), "{e}");
            return;
        }
        Err(e) => panic!("{e:?}"),
    };
    let err = client.create_session().await.unwrap_err();
    assert_transport(&err, TransportKind::Connect);
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn a_root_certificate_that_is_not_pem_is_a_setup_error() {
    let err = Client::builder()
        .base_url("https://localhost:1/v4")
        .root_certificate_pem(b"not a certificate".to_vec())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Setup { .. }), "{err:?}");
    assert!(err.to_string().contains("CERTIFICATE"), "{err}");
}
