//! The endpoint being down does not affect calls through the proxy: with the endpoint's
//! port closed, plain and streamed calls get the upstream's answers unchanged and
//! promptly; the exporter counts the logs it could not deliver.

mod proxy_support;

use std::time::{Duration, Instant};

use humanloop_tracing::proxy::{Proxy, ProxyConfig};
use humanloop_tracing::{Config, Humanloop};
use proxy_support::{closed_port, demo_upstream, PROVIDER_KEY};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_endpoint_down() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let upstream = demo_upstream().await;
    let hl = Humanloop::new(
        Config::builder()
            .base_url(format!("http://127.0.0.1:{}/v4", closed_port()))
            .project("down")
            .build()
            .unwrap(),
    )
    .unwrap();
    let proxy = Proxy::new(
        hl.layer(),
        ProxyConfig::new()
            .upstream(&format!("openai={upstream}"))
            .unwrap(),
    )
    .unwrap();
    let url = proxy_support::serve(&proxy).await;
    let http = reqwest::Client::new();
    for i in 0..5 {
        let started = Instant::now();
        let stream = i % 2 == 1;
        let resp = http
            .post(format!("{url}/openai/chat/completions"))
            .bearer_auth(PROVIDER_KEY)
            .json(&json!({
                "model": "gpt-4o-mini",
                "stream": stream,
                "messages": [{"role": "user", "content": "weather?"}]
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.text().await.unwrap();
        assert!(body.contains("Sunny"), "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let _ = hl.flush(Duration::from_secs(3)).await;
    let stats = hl.stats();
    assert_eq!(stats.sent, 0, "{stats:?}");
    assert!(stats.failed + stats.queued + stats.retried > 0, "{stats:?}");
}
