//! No planted secret escapes, end to end: the quickstart scenario (local endpoint
//! in-process on a SQLite file, the OpenAI-compatible demo provider, a session with steps,
//! nested calls, a streaming call and a `completion-model-config` call with
//! `num_samples = 2`) is run with a unique key in every place a key can travel:
//!
//! * to the provider: `Authorization: Bearer`, `x-api-key`, `api-key`, `x-goog-api-key`,
//!   a `?key=` query parameter (Gemini style), `"api_key"` in the JSON body, the message
//!   text, and a `user:password@` URL (reqwest turns it into `Authorization: Basic`);
//! * in the endpoint's own provider base URL (`ServerConfig::openai_base_url`), a
//!   `user:password@`;
//! * to the endpoint: `HUMANLOOP_API_KEY` (sent as `X-API-KEY`, the server configured with
//!   it), a `user:password@` base URL, and `provider_api_keys` plus an `"api_key"` field in
//!   the `completion-model-config` requests, plain and streamed (the endpoint forwards the
//!   former to the provider), one of them to a provider that refuses the key and quotes it
//!   in its error (which the endpoint relays to the caller);
//! * a Gemini `generateContent` call with the key in `?key=` and `x-goog-api-key`;
//! * a provider call refused by a server that quotes both the header key and the body's
//!   `"api_key"` in its error message (which the log's `error` records).
//!
//! Then every byte is searched: what left the process toward the endpoint and what came
//! back (a recording TCP proxy in front of it), what reached an OTLP receiver (raw and
//! decoded), the in-memory OpenTelemetry spans, every log line (a `fmt` layer at TRACE for
//! this crate writing into a buffer), every `Debug` (`Humanloop`, `Config`, `Client`,
//! `ServerConfig`, errors) and the endpoint's SQLite file (rows and raw bytes). The endpoint's
//! own key may only appear as the value of the `X-API-KEY` request header; a key given in
//! `provider_api_keys` only in the body of the `completion-model-config` request that
//! carries it; no provider key anywhere else.
//!
//! Only test in this binary: it sets `HUMANLOOP_API_KEY` and a global subscriber.

#[path = "../examples/support/demo_provider.rs"]
mod demo_provider;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use humanloop_tracing::api::{CompletionModelConfigRequest, JsonMap, ProviderApiKeys};
use humanloop_tracing::server::{self, ServerConfig};
use humanloop_tracing::{session, step, Client, Config, ConfigBuilder, Humanloop};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use prost::Message as _;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::Instrument;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Buf = Arc<Mutex<Vec<u8>>>;

// Provider keys, one per place (all long enough to be recognised as keys).
const K_BEARER: &str = "sk-PLANT-bearer-1f3a9c";
const K_XAPI: &str = "sk-PLANT-xapikey-2b7d41";
const K_APIKEY: &str = "sk-PLANT-azure-apikey-3c8e52";
const K_GOOG: &str = "AIza-PLANT-goog-4d9f63";
const K_QUERY: &str = "AIza-PLANT-query-5e0a74";
const K_BODY: &str = "sk-PLANT-body-6f1b85";
const K_PROV_PASS: &str = "PLANT-provider-password-7a2c96";
const K_CMC: &str = "sk-PLANT-provider-api-keys-8b3da7";
const K_CMC_EXTRA: &str = "sk-PLANT-cmc-extra-api-key-9c4eb8";
// The endpoint's own provider URL, with a password in it.
const K_SRV_PASS: &str = "PLANT-server-provider-password-2f7be1";
// The endpoint's own credentials.
const HL_KEY: &str = "hl-PLANT-endpoint-key-0d5fc9";
const HL_PASS: &str = "PLANT-endpoint-password-1e6ad0";

/// Keys that must never leave toward the endpoint, nor show anywhere but the provider.
const PROVIDER_KEYS: [&str; 7] = [
    K_BEARER,
    K_XAPI,
    K_APIKEY,
    K_GOOG,
    K_QUERY,
    K_BODY,
    K_PROV_PASS,
];

fn all_secrets() -> Vec<&'static str> {
    let mut v = PROVIDER_KEYS.to_vec();
    v.extend([K_CMC, K_CMC_EXTRA, K_SRV_PASS, HL_KEY, HL_PASS]);
    v
}

/// `Authorization: Basic` values reqwest derives from the two `user:password@` URLs.
fn basic(user: &str, pass: &str) -> String {
    // Tiny base64 (standard alphabet, padded): enough for a test, no extra dependency.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{pass}").into_bytes();
    let mut out = String::new();
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    find(hay, needle.as_bytes()).is_some()
}

static LEAKS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn assert_clean(what: &str, hay: &[u8], secrets: &[&str]) {
    for s in secrets {
        if let Some(at) = find(hay, s.as_bytes()) {
            let from = at.saturating_sub(200);
            let to = (at + s.len() + 200).min(hay.len());
            // Collected, so one run shows every leak.
            LEAKS.lock().unwrap().push(format!(
                "{s} leaked into {what}: …{}…",
                String::from_utf8_lossy(&hay[from..to])
            ));
        }
    }
}

// ---------------------------------------------------------------- recording TCP proxy

/// Per connection: bytes toward the target, bytes back.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Vec<(Buf, Buf)>>>);

impl Recording {
    fn connections(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(up, down)| (up.lock().unwrap().clone(), down.lock().unwrap().clone()))
            .collect()
    }
}

/// A TCP proxy on loopback in front of `target` that records both directions.
async fn recording_proxy(target: SocketAddr) -> (SocketAddr, Recording) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rec = Recording::default();
    let conns = rec.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                continue;
            };
            let (up, down) = (Buf::default(), Buf::default());
            conns.0.lock().unwrap().push((up.clone(), down.clone()));
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pump(ri, wo, up));
            tokio::spawn(pump(ro, wi, down));
        }
    });
    (addr, rec)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    rec: Buf,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                rec.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// One HTTP/1.1 request as it went over the wire.
struct WireRequest {
    line: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Split a connection's client→server bytes into requests (reqwest sends JSON bodies with
/// a `content-length`).
fn requests(mut bytes: &[u8]) -> Vec<WireRequest> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let end = find(bytes, b"\r\n\r\n").expect("a complete request head");
        let head = &bytes[..end];
        let mut lines = head
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let line = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
        let headers: Vec<(String, Vec<u8>)> = lines
            .map(|l| {
                let colon = l.iter().position(|b| *b == b':').expect("a header line");
                (
                    String::from_utf8_lossy(&l[..colon]).to_ascii_lowercase(),
                    l[colon + 1..].trim_ascii().to_vec(),
                )
            })
            .collect();
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.as_slice() != b"identity"),
            "unexpected chunked request: {line}"
        );
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| String::from_utf8_lossy(v).parse().unwrap())
            .unwrap_or(0);
        let body_start = end + 4;
        let body = bytes[body_start..body_start + len].to_vec();
        bytes = &bytes[body_start + len..];
        out.push(WireRequest {
            line,
            headers,
            body,
        });
    }
    out
}

// ---------------------------------------------------------------- OTLP receiver

#[derive(Clone, Default)]
struct Otlp {
    raw: Buf,
    decoded: Arc<Mutex<String>>,
    spans: Arc<Mutex<usize>>,
}

async fn otlp_receiver() -> (SocketAddr, Otlp) {
    let otlp = Otlp::default();
    async fn traces(State(rx): State<Otlp>, body: Bytes) -> &'static str {
        rx.raw.lock().unwrap().extend_from_slice(&body);
        let req = ExportTraceServiceRequest::decode(body).expect("valid OTLP protobuf");
        let n: usize = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        *rx.spans.lock().unwrap() += n;
        rx.decoded.lock().unwrap().push_str(&format!("{req:?}\n"));
        ""
    }
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(otlp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, otlp)
}

// ---------------------------------------------------------------- more providers

/// An OpenAI-compatible server refusing every key, quoting it in full in OpenAI's
/// documented error shape (OpenAI itself masks the middle; a compatible server may not).
async fn echoing_provider() -> SocketAddr {
    async fn chat(headers: axum::http::HeaderMap, body: Bytes) -> (axum::http::StatusCode, String) {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // A key given in the body is quoted too.
        let in_body = serde_json::from_slice::<Value>(&body).unwrap_or_default()["api_key"]
            .as_str()
            .map(|k| format!(" (body: {k})"))
            .unwrap_or_default();
        let token = format!("{bearer}{in_body}");
        let body = json!({"error": {
            "message": format!("Incorrect API key provided: {token}. You can find your API key at https://platform.openai.com/account/api-keys."),
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key"
        }});
        (axum::http::StatusCode::UNAUTHORIZED, body.to_string())
    }
    let app = Router::new().route("/v1/chat/completions", post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Gemini's `generateContent`, answering the documented fixture.
async fn gemini_provider() -> SocketAddr {
    async fn generate() -> ([(&'static str, &'static str); 1], Vec<u8>) {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gemini/generate_basic.json"
        ))
        .unwrap();
        ([("content-type", "application/json")], body)
    }
    let app = Router::new().route("/v1beta/models/{model}", post(generate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

// ---------------------------------------------------------------- log buffer

#[derive(Clone)]
struct LogWriter(Buf);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------- the caller's LLM code

struct Llm<'a> {
    http: &'a ClientWithMiddleware,
    url: &'a str,
}

impl Llm<'_> {
    fn post(&self, body: Value) -> reqwest_middleware::RequestBuilder {
        self.http
            .post(self.url)
            .bearer_auth(K_BEARER)
            .header("x-api-key", K_XAPI)
            .header("api-key", K_APIKEY)
            .header("x-goog-api-key", K_GOOG)
            .json(&body)
    }

    async fn chat(&self, prompt: &str) -> Result<String, BoxError> {
        let body = json!({
            "model": "gpt-4o-mini",
            "api_key": K_BODY,
            "messages": [
                {"role": "system", "content": format!("You are a concise travel agent (debug: {K_BEARER}).")},
                {"role": "user", "content": prompt}
            ],
            "temperature": 0.2,
        });
        let resp: Value = self
            .post(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(resp["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn chat_stream(&self, prompt: &str) -> Result<String, BoxError> {
        let body = json!({
            "model": "gpt-4o-mini",
            "api_key": K_BODY,
            "messages": [{"role": "user", "content": prompt}],
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let resp = self.post(body).send().await?.error_for_status()?;
        let mut text = String::new();
        let mut events = eventsource_stream::EventStream::new(resp.bytes_stream());
        while let Some(event) = events.next().await {
            let event = event?;
            if event.data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(&event.data)?;
            if let Some(delta) = chunk["choices"][0]["delta"]["content"].as_str() {
                text.push_str(delta);
            }
        }
        Ok(text)
    }
}

#[test]
fn no_planted_key_escapes_the_quickstart_scenario() {
    // Before any thread exists: the only test of this binary sets the env key.
    std::env::set_var("HUMANLOOP_API_KEY", HL_KEY);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario());
}

async fn scenario() {
    let secrets = all_secrets();

    // Every log line of this crate (and the server's), TRACE, span closes with their fields.
    let log_buf = Buf::default();
    let memory = InMemorySpanExporter::default();
    let (otlp_addr, otlp) = otlp_receiver().await;
    let otlp_exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://{otlp_addr}/v1/traces"))
        .build()
        .unwrap();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(memory.clone())
        .with_batch_exporter(otlp_exporter)
        .build();

    // The provider, behind a recording proxy (to show each key did reach it).
    let provider_url = demo_provider::start().await.unwrap();
    let provider_addr: SocketAddr = provider_url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .parse()
        .unwrap();
    let (provider_proxy, provider_rec) = recording_proxy(provider_addr).await;

    let echo = echoing_provider().await;
    let gemini = gemini_provider().await;

    // The endpoint on a SQLite file, behind a recording proxy.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hl.db");
    let server_config = ServerConfig::with_db(&db)
        .api_key(HL_KEY)
        .openai_base_url(format!("http://srv-user:{K_SRV_PASS}@{provider_proxy}/v1"));
    let server_debug = format!("{server_config:?}");
    let endpoint = server::spawn(server_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (endpoint_proxy, endpoint_rec) = recording_proxy(endpoint.local_addr()).await;
    let base_url = format!("http://hl-user:{HL_PASS}@{endpoint_proxy}/v4");

    let builder = ConfigBuilder::from_env()
        .unwrap()
        .base_url(&base_url)
        .project("quickstart")
        .capture_content(true);
    let mut debugs = vec![
        ("ServerConfig", server_debug),
        ("ServerHandle", format!("{endpoint:?}")),
        ("ConfigBuilder", format!("{builder:?}")),
    ];
    let config = builder.build().unwrap();
    assert_eq!(config.api_key().map(|k| k.expose()), Some(HL_KEY));
    let hl = Humanloop::new(config).unwrap();

    let subscriber = tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("quickstart")))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_span_events(FmtSpan::FULL)
                .with_writer({
                    let buf = log_buf.clone();
                    move || LogWriter(buf.clone())
                })
                .with_filter(tracing_subscriber::EnvFilter::new(
                    "humanloop_tracing=trace,humanloop_tracing::server=trace,warn",
                )),
        );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let chat_url = format!(
        "http://demo-user:{K_PROV_PASS}@{provider_proxy}/v1/chat/completions?key={K_QUERY}"
    );
    let llm = Llm {
        http: &http,
        url: &chat_url,
    };

    // Register the model config straight over HTTP, as the quickstart does.
    let plain = reqwest::Client::new();
    let created: Value = plain
        .post(format!("{base_url}/model-configs"))
        .header("X-API-KEY", HL_KEY)
        .json(&json!({
            "project": "quickstart",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "endpoint": "chat",
            "name": "tagline",
            "temperature": 0.9,
            "chat_template": [
                {"role": "user", "content": "Write a one-line tagline for a trip to {{city}}."}
            ]
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let config_id = created["config"]["id"].as_str().unwrap().to_owned();
    // A config whose provider refuses (and quotes) the key it is given.
    let created: Value = plain
        .post(format!("{base_url}/model-configs"))
        .header("X-API-KEY", HL_KEY)
        .json(&json!({
            "project": "quickstart",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "endpoint": "chat",
            "name": "refused",
            "other": {"base_url": format!("http://{echo}/v1")},
            "chat_template": [{"role": "user", "content": "Hello {{city}}."}]
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let refused_id = created["config"]["id"].as_str().unwrap().to_owned();

    let taglines = async {
        let plan = llm.chat("Plan a three-day trip to Lisbon.").await.unwrap();
        assert!(plan.contains("Lisbon"), "{plan}");
        async {
            llm.chat("What's the weather in Lisbon this weekend?")
                .instrument(step("check-weather"))
                .await
                .unwrap();
            llm.chat("Find a hotel in Alfama for three nights.")
                .instrument(step("find-hotel"))
                .await
                .unwrap();
        }
        .instrument(step("research"))
        .await;
        let summary = llm
            .chat_stream("Summarise the trip for the traveller.")
            .await
            .unwrap();
        assert!(summary.contains("Lisbon"), "{summary}");

        // Gemini style: the key in `?key=` and `x-goog-api-key`.
        let gemini_url = format!(
            "http://{gemini}/v1beta/models/gemini-2.0-flash:generateContent?key={K_QUERY}"
        );
        let answer: Value = async {
            http.post(&gemini_url)
                .header("x-goog-api-key", K_GOOG)
                .json(&json!({
                    "contents": [{"role": "user", "parts": [{"text": "Best time to visit Lisbon?"}]}],
                    "api_key": K_BODY,
                }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        }
        .instrument(step("ask-gemini"))
        .await;
        assert!(answer["candidates"].is_array(), "{answer}");

        // A provider that refuses and quotes the keys of the header and of the body: the
        // caller gets its answer untouched, the records get neither key.
        let refused = http
            .post(format!("http://{echo}/v1/chat/completions"))
            .bearer_auth(K_BEARER)
            .json(&json!({
                "model": "gpt-4o-mini",
                "api_key": K_BODY,
                "messages": [{"role": "user", "content": "Is this key right?"}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        let quoted = refused.text().await.unwrap();
        assert!(quoted.contains(K_BEARER) && quoted.contains(K_BODY), "{quoted}");

        let mut inputs = JsonMap::new();
        inputs.insert("city".into(), json!("Lisbon"));
        let keys = ProviderApiKeys::default().with_openai(K_CMC);
        let request = CompletionModelConfigRequest::new(config_id.clone())
            .with_project("quickstart")
            .with_inputs(inputs)
            .with_num_samples(2u32)
            .with_provider_api_keys(keys)
            .with_extra("api_key", K_CMC_EXTRA);
        let response = hl
            .client()
            .completion_model_config(&request)
            .instrument(step("write-taglines"))
            .await
            .unwrap();
        assert_eq!(response.data.len(), 2);

        // The same through the streaming answer.
        let samples = hl
            .client()
            .completion_model_config_stream(&request)
            .instrument(step("stream-taglines"))
            .await
            .unwrap()
            .collect_samples()
            .await
            .unwrap();
        assert_eq!(samples.len(), 2);

        // A provider that refuses the key and quotes it: the endpoint relays its error.
        let mut refused = request.clone();
        refused.model_config_id = refused_id.clone();
        let refusal = hl
            .client()
            .completion_model_config(&refused)
            .await
            .expect_err("the provider refuses");
        let shown = format!("{refusal:?}");
        assert!(
            shown.contains("invalid_api_key"),
            "the provider's error is relayed: {shown}"
        );
        assert!(shown.contains("[REDACTED]"), "with the key masked: {shown}");

        // An error answer that carries the request's keys back? (An unknown config.)
        let mut unknown = request.clone();
        unknown.model_config_id = "config_does_not_exist".into();
        let err = hl
            .client()
            .completion_model_config(&unknown)
            .await
            .expect_err("an unknown model config is an error");
        (response, err, refusal)
    }
    .instrument(session("trip-planner"))
    .await;
    let (response, api_err, refusal) = taglines;
    debugs.push(("a relayed provider refusal (Debug)", format!("{refusal:?}")));
    debugs.push(("a relayed provider refusal (Display)", refusal.to_string()));
    debugs.push(("the completion response", format!("{response:?}")));
    debugs.push(("an API error (Debug)", format!("{api_err:?}")));
    debugs.push(("an API error (Display)", api_err.to_string()));

    // A transport error from a client with the endpoint's key and a userinfo URL.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = Client::builder()
        .base_url(format!("http://hl-user:{HL_PASS}@{closed}/v4"))
        .api_key(HL_KEY)
        .retry(humanloop_tracing::config::RetryPolicy::none())
        .build()
        .unwrap();
    let err = down.create_session().await.expect_err("nothing listens");
    debugs.push(("a down Client", format!("{down:?}")));
    debugs.push(("a transport error (Debug)", format!("{err:?}")));
    debugs.push(("a transport error (Display)", err.to_string()));
    // Configuration errors about a base URL holding a password.
    let bad = Config::builder()
        .base_url(format!("ftp://hl-user:{HL_PASS}@{closed}/v4"))
        .api_key(HL_KEY)
        .build()
        .expect_err("ftp is not an endpoint scheme");
    debugs.push(("a config error (Debug)", format!("{bad:?}")));
    debugs.push(("a config error (Display)", bad.to_string()));
    let bad = Client::builder()
        .base_url(format!("ftp://hl-user:{HL_PASS}@{closed}/v4"))
        .api_key(HL_KEY)
        .build()
        .expect_err("ftp is not an endpoint scheme");
    debugs.push(("a client setup error (Debug)", format!("{bad:?}")));
    debugs.push(("a client setup error (Display)", bad.to_string()));

    hl.flush(Duration::from_secs(10)).await.unwrap();
    let stats = hl.stats();
    assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
    debugs.push(("Humanloop", format!("{hl:?}")));
    debugs.push(("Config", format!("{:?}", hl.config())));
    debugs.push(("Client", format!("{:?}", hl.client())));
    debugs.push(("the middleware", format!("{:?}", hl.middleware())));
    debugs.push(("the layer", format!("{:?}", hl.layer())));
    debugs.push(("the instrumented reqwest client", format!("{http:?}")));
    hl.flush_spans();
    let _ = tracer_provider.force_flush();
    hl.shutdown(Duration::from_secs(5)).await.unwrap();
    // (The in-memory exporter forgets its spans on shutdown: read them first.)
    let spans = memory.get_finished_spans().unwrap();
    tracer_provider.shutdown().unwrap();
    endpoint.shutdown().await.unwrap();

    // ---- every Debug
    for (what, text) in &debugs {
        assert_clean(what, text.as_bytes(), &secrets);
    }

    // ---- the in-memory spans and the OTLP receiver
    assert!(
        spans.iter().any(|s| s.name.starts_with("chat gpt-4o-mini")),
        "the provider calls were traced: {:?}",
        spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
    );
    assert!(
        spans.iter().any(|s| s
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "gen_ai.input.messages")),
        "content was captured on spans, so there was something to leak"
    );
    assert_clean(
        "the OpenTelemetry spans",
        format!("{spans:?}").as_bytes(),
        &secrets,
    );
    assert!(
        *otlp.spans.lock().unwrap() >= spans.len(),
        "OTLP got the spans"
    );
    assert_clean("the OTLP bytes", &otlp.raw.lock().unwrap(), &secrets);
    assert_clean(
        "the decoded OTLP requests",
        otlp.decoded.lock().unwrap().as_bytes(),
        &secrets,
    );

    // ---- every log line
    let logs = log_buf.lock().unwrap().clone();
    assert!(
        contains(&logs, "gen_ai"),
        "the fmt layer saw this crate's spans"
    );
    assert_clean("the log lines", &logs, &secrets);

    // ---- the provider did receive each key (the planting worked)
    let to_provider: Vec<u8> = provider_rec
        .connections()
        .into_iter()
        .flat_map(|(up, _)| up)
        .collect();
    for key in [K_BEARER, K_XAPI, K_APIKEY, K_GOOG, K_QUERY, K_BODY, K_CMC] {
        assert!(
            contains(&to_provider, key),
            "{key} did not reach the provider"
        );
    }
    assert!(contains(&to_provider, &basic("demo-user", K_PROV_PASS)));
    assert!(contains(&to_provider, &basic("srv-user", K_SRV_PASS)));
    // …and none of the endpoint's credentials.
    let hl_basic = basic("hl-user", HL_PASS);
    assert_clean(
        "the bytes toward the provider",
        &to_provider,
        &[HL_KEY, HL_PASS, &hl_basic],
    );

    // ---- every byte toward the endpoint and back
    let mut saw = (0, 0); // (requests with X-API-KEY, completion requests with keys)
    let mut endpoint_requests = 0;
    for (up, down) in endpoint_rec.connections() {
        assert_clean("an endpoint answer", &down, &secrets);
        assert_clean("an endpoint answer", &down, &[&hl_basic]);
        for req in requests(&up) {
            endpoint_requests += 1;
            assert_clean("a request line", req.line.as_bytes(), &secrets);
            for (name, value) in &req.headers {
                let what = format!("the {name} header of {}", req.line);
                match name.as_str() {
                    "x-api-key" => {
                        assert_eq!(value.as_slice(), HL_KEY.as_bytes(), "{what}");
                        saw.0 += 1;
                    }
                    "authorization" => {
                        assert_eq!(value.as_slice(), format!("Basic {hl_basic}").as_bytes());
                    }
                    _ => {
                        assert_clean(&what, value, &secrets);
                        assert_clean(&what, value, &[&hl_basic]);
                    }
                }
            }
            let what = format!("the body of {}", req.line);
            assert_clean(&what, &req.body, &[&hl_basic]);
            if req.line.starts_with("POST /v4/completion-model-config ") {
                // The caller's own keys for this call, and nothing else secret.
                let mut body: Value = serde_json::from_slice(&req.body).unwrap();
                assert_eq!(body["provider_api_keys"], json!({"openai": K_CMC}));
                assert_eq!(body["api_key"], json!(K_CMC_EXTRA));
                let map = body.as_object_mut().unwrap();
                map.remove("provider_api_keys");
                map.remove("api_key");
                assert_clean(&what, body.to_string().as_bytes(), &secrets);
                saw.1 += 1;
            } else {
                assert_clean(&what, &req.body, &secrets);
            }
        }
    }
    assert_eq!(saw.0, endpoint_requests, "every request carried X-API-KEY");
    assert_eq!(saw.1, 4, "the completion requests went through the proxy");
    assert!(endpoint_requests >= 5, "{endpoint_requests} requests");

    // ---- the endpoint's database: rows, then raw bytes
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut dump = String::new();
    let mut rows = 0;
    for table in &tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let cols = stmt.column_count();
        let mut q = stmt.query([]).unwrap();
        while let Some(row) = q.next().unwrap() {
            rows += 1;
            for i in 0..cols {
                let v: rusqlite::types::Value = row.get(i).unwrap();
                dump.push_str(&format!("{table}.{i}={v:?}\n"));
            }
        }
    }
    assert!(
        dump.contains("Lisbon") && rows >= 10,
        "the database holds the session"
    );
    assert_clean("the database rows", dump.as_bytes(), &secrets);
    assert!(!dump.contains("provider_api_keys"), "{dump}");
    drop(conn);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_clean(&format!("the file {}", path.display()), &bytes, &secrets);
    }
    let leaks = LEAKS.lock().unwrap();
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n\n")
    );
}
