//! Upstreams over TLS: HTTP/2 when the upstream offers it by ALPN, HTTP/1.1 when it offers
//! only that, both through the proxy's own rustls configuration (a private CA added with
//! `add_root_certificate_pem`, no process-wide crypto provider installed by the library);
//! an upstream whose certificate is not trusted → `502` whose `detail` names the upstream
//! and the certificate failure.

#[path = "it/harness/mod.rs"]
mod harness;
mod proxy_support;

use bytes::Bytes;
use harness::fixtures::{tls_fixture, tls_server_config};
use http_body_util::Full;
use humanloop_tracing::proxy::{Proxy, ProxyConfig};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

/// A TLS upstream offering `alpn`; answers each request with the HTTP version it came in.
async fn tls_upstream(alpn: &[&[u8]]) -> u16 {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_server_config(alpn));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let body = format!("{:?} {}", req.version(), req.uri().path());
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(
                        body,
                    ))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_tls_upstream() {
    let h2 = tls_upstream(&[b"h2", b"http/1.1"]).await;
    let h1 = tls_upstream(&[b"http/1.1"]).await;
    let ca = std::fs::read(tls_fixture("ca.pem")).unwrap();
    let stack = proxy_support::start(|c| {
        c.upstream(&format!("h2=https://localhost:{h2}/v1"))
            .unwrap()
            .upstream(&format!("h1=https://127.0.0.1:{h1}"))
            .unwrap()
            .add_root_certificate_pem(ca)
    })
    .await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let resp = http.get(path).send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(
        get(format!("{}/h2/models", stack.proxy_url)).await,
        (200, "HTTP/2.0 /v1/models".to_owned())
    );
    assert_eq!(
        get(format!("{}/h1/v1/models", stack.proxy_url)).await,
        (200, "HTTP/1.1 /v1/models".to_owned())
    );

    // The same upstream without the private CA: not trusted.
    let untrusted = Proxy::new(
        stack.hl.layer(),
        ProxyConfig::new()
            .upstream(&format!("secure=https://localhost:{h2}"))
            .unwrap(),
    )
    .unwrap();
    let url = proxy_support::serve(&untrusted).await;
    let resp = http
        .get(format!("{url}/secure/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("upstream `secure`"), "{detail}");
    assert!(
        detail.contains(&format!("https://localhost:{h2}")),
        "{detail}"
    );
    assert!(detail.to_lowercase().contains("certificate"), "{detail}");
}
