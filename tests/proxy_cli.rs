//! `humanloop-tracing proxy --serve` is a whole tracing stack in one command: the binary
//! (built with features `server`, `proxy`, `otlp`) runs the local endpoint and the proxy;
//! a call through it reaches the loopback OpenAI-compatible upstream, its log reaches the
//! served endpoint (configured from `HUMANLOOP_*`), its span reaches the OTLP receiver
//! named by `OTEL_EXPORTER_OTLP_ENDPOINT`; the upstream comes from
//! `HUMANLOOP_PROXY_UPSTREAMS`, and bad flags fail clearly.
#![cfg(all(feature = "server", feature = "proxy", feature = "otlp"))]

mod proxy_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use proxy_support::{demo_upstream, get_json, PROVIDER_KEY};
use serde_json::{json, Value};

type Spans = Arc<Mutex<Vec<(String, Vec<(String, String)>, Vec<(String, String)>)>>>;

async fn otlp_receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let sink = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                if let Ok(req) = ExportTraceServiceRequest::decode(body) {
                    for rs in req.resource_spans {
                        let resource: Vec<(String, String)> = rs
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .map(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
                            .collect();
                        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                            let attrs = span
                                .attributes
                                .iter()
                                .map(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
                                .collect();
                            sink.lock()
                                .unwrap()
                                .push((span.name, attrs, resource.clone()));
                        }
                    }
                }
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_cli() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let upstream = demo_upstream().await;
    let (otlp, spans) = otlp_receiver().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--serve",
            "--serve-addr",
            "127.0.0.1:0",
        ])
        .env("HUMANLOOP_PROXY_UPSTREAMS", format!("openai={upstream}"))
        .env("HUMANLOOP_PROJECT", "cli-project")
        .env("HUMANLOOP_EXPORT_SCHEDULE_DELAY", "100")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("HUMANLOOP_BASE_URL")
        .env_remove("OTEL_SERVICE_NAME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected `{prefix}…`, got `{line}`"))
            .to_owned()
    };
    let endpoint = next("endpoint listening on ");
    let proxy = next("proxy listening on ");
    assert_eq!(next("prefixes: "), "/openai");

    let http = reqwest::Client::new();
    let resp: Value = http
        .post(format!("{proxy}/openai/chat/completions"))
        .bearer_auth(PROVIDER_KEY)
        .header("Humanloop-Session-Reference-Id", "cli-session")
        .json(
            &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        resp["choices"][0]["message"]["content"],
        "Sunny, 24°C, light breeze from the Atlantic."
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let logs = get_json(&http, &format!("{endpoint}/logs")).await;
        if let Some(log) = logs["records"].as_array().and_then(|r| r.first()).cloned() {
            break log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log reached the served endpoint"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(log["session_reference_id"], "cli-session", "{log:#}");
    assert_eq!(log["config"]["model"], "gpt-4o-mini", "{log:#}");
    assert!(!log.to_string().contains(PROVIDER_KEY));

    let span = loop {
        let found = spans
            .lock()
            .unwrap()
            .iter()
            .find(|(_, attrs, _)| attrs.iter().any(|(k, _)| k == "gen_ai.request.model"))
            .cloned();
        if let Some(span) = found {
            break span;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no span reached the OTLP receiver"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, attrs, resource) = span;
    assert!(
        attrs
            .iter()
            .any(|(k, v)| k == "gen_ai.request.model" && v.contains("gpt-4o-mini")),
        "{attrs:?}"
    );
    assert!(
        resource
            .iter()
            .any(|(k, v)| k == "service.name" && v.contains("humanloop-tracing-proxy")),
        "{resource:?}"
    );
    assert!(!format!("{attrs:?}").contains(PROVIDER_KEY));
    child.kill().unwrap();
    let _ = child.wait();

    // Bad input fails clearly.
    let out = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "openai=ftp://x",
            "--upstream",
            "b=http://y",
        ])
        .env_remove("HUMANLOOP_PROXY_UPSTREAMS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid upstream `openai=ftp://x`: the scheme must be http or https"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
        .args([
            "proxy",
            "--upstream",
            "a=http://x",
            "--upstream-key",
            "b=sk-PLANT-x",
        ])
        .env_remove("HUMANLOOP_PROXY_UPSTREAMS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not configured"), "{stderr}");
    assert!(!stderr.contains("sk-PLANT-x"), "{stderr}");
}
