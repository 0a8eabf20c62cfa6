//! The whole story in one run, offline: `cargo run --example quickstart`.
//!
//! 1. Starts the local endpoint in-process (in-memory SQLite) and a small
//!    OpenAI-compatible demo provider, both on loopback ports.
//! 2. Installs the middleware, the session/step layer and an OpenTelemetry pipeline.
//! 3. Runs an agent session: steps, nested calls, a streaming call and a
//!    `completion-model-config` call with `num_samples = 2` through the endpoint.
//! 4. Flushes, then prints the span tree and the session tree read back from the endpoint.
//!
//! Environment (all optional):
//! * `HUMANLOOP_BASE_URL`, `HUMANLOOP_API_KEY`: send the logs to that endpoint instead;
//! * `OPENAI_BASE_URL`, `OPENAI_API_KEY`: call that provider instead of the demo one
//!   (`QUICKSTART_MODEL` names the model, default `gpt-4o-mini`);
//! * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` (and their
//!   `_HEADERS`): also export the spans by OTLP/HTTP (protobuf), e.g. to Arize Phoenix or
//!   MLflow (`scripts/backends/run.sh` does both); failed exports are reported;
//! * `HUMANLOOP_CAPTURE_CONTENT=true`: messages and step inputs/outputs on the spans;
//! * `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`: the
//!   semantic-conventions-genai v0.1 names instead of v1.41's;
//! * `QUICKSTART_TREE_JSON=path`: also write the span tree there, as JSON;
//! * `QUICKSTART_STEPS_SESSION=key`: after the tree is printed, also run a session with a
//!   tool step and no LLM call (a trace backends must still file under its session);
//!   `QUICKSTART_STEPS_TREE_JSON=path` writes its spans there, as JSON;
//! * `QUICKSTART_OTLP_DEADLINE_SECS` (default 10): how long the OTLP exporter may take to
//!   deliver the last spans at exit (past it the run still succeeds, and says so).
//!
//! `cargo run --example quickstart -- --serve` (or `QUICKSTART_SERVE=1`) keeps the local
//! endpoint running at the end and prints the URL of its web UI; `QUICKSTART_ADDR` picks
//! its address (default `127.0.0.1:0`, any free port).

#[path = "support/demo_provider.rs"]
mod demo_provider;
#[path = "support/otlp.rs"]
mod otlp;

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use humanloop_tracing::api::{
    ChatMessage, CompletionModelConfigRequest, JsonMap, ModelConfig, ModelEndpoint,
    ProjectModelConfigRequest, ProviderApiKeys,
};
use humanloop_tracing::hierarchy::{record_input, record_output};
use humanloop_tracing::server::{self, ServerConfig};
use humanloop_tracing::{agent, session, step, tool, ConfigBuilder, Humanloop};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{json, Value};
use tracing::Instrument;
use tracing::Span;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

type BoxError = Box<dyn Error + Send + Sync>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // reqwest is built with rustls and no default crypto provider: pick ring.
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The provider: the demo one on loopback, unless OPENAI_BASE_URL names another.
    let (openai_base, openai_key) = match env("OPENAI_BASE_URL") {
        Some(url) => (url, env("OPENAI_API_KEY").unwrap_or_default()),
        None => (
            demo_provider::start().await?,
            "sk-demo-not-a-real-key".to_owned(),
        ),
    };
    let model = env("QUICKSTART_MODEL").unwrap_or_else(|| "gpt-4o-mini".to_owned());
    let serve = std::env::args().any(|a| a == "--serve") || env("QUICKSTART_SERVE").is_some();
    let addr = env("QUICKSTART_ADDR").unwrap_or_else(|| "127.0.0.1:0".to_owned());

    // The endpoint: the local one in-process, unless HUMANLOOP_BASE_URL names another.
    let (local, base_url, api_key) = match env("HUMANLOOP_BASE_URL") {
        Some(url) => (None, url, env("HUMANLOOP_API_KEY").unwrap_or_default()),
        None => {
            let key = "hl-quickstart-local-key";
            let handle = server::spawn(
                ServerConfig::in_memory()
                    .api_key(key)
                    .openai_base_url(openai_base.clone()),
                addr.parse()?,
            )
            .await?;
            let url = handle.base_url();
            (Some(handle), url, key.to_owned())
        }
    };

    // OpenTelemetry: an in-memory exporter to print the span tree, plus OTLP if asked.
    let memory = InMemorySpanExporter::default();
    let otlp = otlp::Otlp::build(
        SdkTracerProvider::builder().with_simple_exporter(memory.clone()),
        "quickstart",
        None,
    )?;
    let tracer_provider = otlp.provider.clone();

    let hl = Humanloop::new(
        ConfigBuilder::from_env()?
            .base_url(&base_url)
            .api_key(api_key.as_str())
            .project("quickstart")
            .build()?,
    )?;
    tracing_subscriber::registry()
        .with(hl.tracing_layer())
        // The recommended setup: no location/thread/timing noise on the spans.
        .with(humanloop_tracing::otel::layer(
            tracer_provider.tracer("quickstart"),
        ))
        .with(
            tracing_subscriber::fmt::layer().with_filter(tracing_subscriber::EnvFilter::new(
                env("RUST_LOG").unwrap_or_else(|| "warn".to_owned()),
            )),
        )
        .init();

    println!("endpoint: {base_url}");
    println!("provider: {openai_base}");
    if let Some(url) = &otlp.endpoint {
        println!("OTLP:     {url}");
    }
    println!();

    // The caller's HTTP client: plain reqwest plus our middleware.
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let chat_url = format!("{}/chat/completions", openai_base.trim_end_matches('/'));
    let llm = Llm {
        http: &http,
        url: &chat_url,
        key: &openai_key,
        model: &model,
    };

    // Register the model configuration the completion-model-config call uses.
    let external = local.is_none() && env("OPENAI_BASE_URL").is_none();
    let config_id =
        register_model_config(&hl, &model, external.then_some(openai_base.as_str())).await?;

    let session_key =
        env("QUICKSTART_SESSION").unwrap_or_else(|| format!("trip-planner-{}", std::process::id()));
    let root = session(session_key.as_str());
    let request = "Plan a three-day trip to Lisbon.";
    record_input(&root, "request", request);
    async {
        let plan = llm.chat(request).await?;
        println!("plan      → {plan}");

        async {
            let weather = tool("check-weather");
            record_input(&weather, "city", "Lisbon");
            let weather = async {
                let answer = llm
                    .chat("What's the weather in Lisbon this weekend?")
                    .await?;
                record_output(&Span::current(), answer.as_str());
                Ok::<_, BoxError>(answer)
            }
            .instrument(weather)
            .await?;
            println!("weather   → {weather}");
            let hotel = tool("find-hotel");
            record_input(&hotel, "district", "Alfama");
            record_input(&hotel, "nights", 3);
            let hotels = async {
                let answer = llm.chat("Find a hotel in Alfama for three nights.").await?;
                record_output(&Span::current(), answer.as_str());
                Ok::<_, BoxError>(answer)
            }
            .instrument(hotel)
            .await?;
            println!("hotel     → {hotels}");
            Ok::<_, BoxError>(())
        }
        .instrument(agent("research"))
        .await?;

        let summary = llm
            .chat_stream("Summarise the trip for the traveller.")
            .await?;
        println!("summary   → {summary} (streamed)");

        let mut inputs = JsonMap::new();
        inputs.insert("city".into(), json!("Lisbon"));
        let keys = ProviderApiKeys::default().with_openai(openai_key.clone());
        let request = CompletionModelConfigRequest::new(config_id.clone())
            .with_project("quickstart")
            .with_inputs(inputs)
            .with_num_samples(2u32)
            .with_provider_api_keys(keys);
        // Through the endpoint's own model config: traced too, and filed under this step.
        let response = hl
            .client()
            .completion_model_config(&request)
            .instrument(step("write-taglines"))
            .await?;
        for item in &response.data {
            println!(
                "tagline #{} → {}",
                item.index,
                item.output.as_deref().unwrap_or_default()
            );
        }
        record_output(&Span::current(), summary.as_str());
        Ok::<_, BoxError>(())
    }
    .instrument(root)
    .await?;

    // Deliver every log before reading the endpoint back.
    hl.flush(Duration::from_secs(10)).await?;

    // Every span has ended, and the in-memory exporter has them all (no flush needed:
    // a flush would also wait on a slow OTLP backend).
    let finished = memory.get_finished_spans()?;
    println!("\n── span tree (OpenTelemetry) ──");
    print_span_tree(&finished);
    if let Some(path) = env("QUICKSTART_TREE_JSON") {
        std::fs::write(&path, span_tree_json(&finished).to_string())?;
    }

    println!("\n── session tree (read back from the endpoint) ──");
    print_session_tree(&base_url, &api_key, &session_key).await?;

    if let Some(key) = env("QUICKSTART_STEPS_SESSION") {
        let root = session(key.as_str());
        record_input(&root, "request", "Do I need a visa for Portugal?");
        async {
            let visa = tool("check-visa");
            record_input(&visa, "country", "Portugal");
            async { record_output(&Span::current(), "Not for a stay under 90 days.") }
                .instrument(visa)
                .await;
            record_output(&Span::current(), "No visa needed.");
        }
        .instrument(root)
        .await;
        if let Some(path) = env("QUICKSTART_STEPS_TREE_JSON") {
            let before: std::collections::HashSet<_> =
                finished.iter().map(|s| s.span_context.span_id()).collect();
            let steps: Vec<SpanData> = memory
                .get_finished_spans()?
                .into_iter()
                .filter(|s| !before.contains(&s.span_context.span_id()))
                .collect();
            std::fs::write(&path, span_tree_json(&steps).to_string())?;
        }
    }

    let stats = hl.stats();
    println!(
        "\nexporter: {} sent, {} retried, {} dropped, {} failed",
        stats.sent, stats.retried, stats.dropped, stats.failed
    );
    hl.shutdown(Duration::from_secs(5)).await?;
    // A slow or failing OTLP backend is reported, not turned into a failed run.
    let deadline = env("QUICKSTART_OTLP_DEADLINE_SECS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    otlp.shutdown(Duration::from_secs(deadline));
    if let Some(handle) = local {
        let ui = format!("http://{}/", handle.local_addr());
        if serve {
            println!("\nweb UI: {ui}  (API key: {api_key}; Ctrl-C stops the endpoint)");
            tokio::signal::ctrl_c().await?;
        } else {
            println!("\nrun with --serve to keep the endpoint and its web UI ({ui}) running");
        }
        handle.shutdown().await?;
    }
    Ok(())
}

/// The caller's own LLM code: plain OpenAI chat calls over the instrumented client.
struct Llm<'a> {
    http: &'a ClientWithMiddleware,
    url: &'a str,
    key: &'a str,
    model: &'a str,
}

impl Llm<'_> {
    /// POST `body` to the chat completions URL; a non-2xx answer is an error.
    async fn post(&self, body: &Value) -> Result<reqwest::Response, BoxError> {
        let resp = self
            .http
            .post(self.url)
            .bearer_auth(self.key)
            .json(body)
            .send()
            .await?;
        Ok(resp.error_for_status()?)
    }

    async fn chat(&self, prompt: &str) -> Result<String, BoxError> {
        let body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": "You are a concise travel agent."},
                {"role": "user", "content": prompt}
            ],
            "temperature": 0.2,
        });
        let resp: Value = self.post(&body).await?.json().await?;
        Ok(resp["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn chat_stream(&self, prompt: &str) -> Result<String, BoxError> {
        let body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let resp = self.post(&body).await?;
        // The caller reads the raw SSE bytes as they arrive; the middleware tees them.
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

/// Register the config through the crate's `Client` (`POST /model-configs`, answered with
/// the v4 `ProjectConfigResponse`), as against any v4 endpoint. `provider_base_url` names
/// the OpenAI-compatible server in the config's `other.base_url` (which the local endpoint
/// honours), for an endpoint started elsewhere that cannot know this run's demo provider.
async fn register_model_config(
    hl: &Humanloop,
    model: &str,
    provider_base_url: Option<&str>,
) -> Result<String, BoxError> {
    let mut config = ModelConfig::new(model);
    if let Some(url) = provider_base_url {
        let mut other = JsonMap::new();
        other.insert("base_url".to_owned(), Value::String(url.to_owned()));
        config.other = Some(other);
    }
    config.provider = Some("openai".to_owned());
    config.endpoint = Some(ModelEndpoint::Chat);
    config.name = Some("tagline".to_owned());
    config.temperature = Some(0.9);
    config.chat_template = Some(vec![ChatMessage::user(
        "Write a one-line tagline for a trip to {{city}}.",
    )]);
    let registered = hl
        .client()
        .register_model_config(&ProjectModelConfigRequest::new("quickstart", config))
        .await?;
    Ok(registered.config.id)
}

/// The span tree as JSON: `[{"name", "span_id", "parent_span_id", "trace_id", "attributes"}]`.
fn span_tree_json(spans: &[SpanData]) -> Value {
    Value::Array(
        spans
            .iter()
            .map(|s| {
                let attributes: serde_json::Map<String, Value> = s
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.to_string(), json!(kv.value.to_string())))
                    .collect();
                json!({
                    "name": s.name,
                    "span_id": s.span_context.span_id().to_string(),
                    "parent_span_id": s.parent_span_id.to_string(),
                    "trace_id": s.span_context.trace_id().to_string(),
                    "attributes": attributes,
                })
            })
            .collect(),
    )
}

fn print_span_tree(spans: &[SpanData]) {
    let mut children: HashMap<_, Vec<&SpanData>> = HashMap::new();
    for s in spans {
        children.entry(s.parent_span_id).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start_time);
    }
    let ids: std::collections::HashSet<_> =
        spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut roots: Vec<&SpanData> = spans
        .iter()
        .filter(|s| !ids.contains(&s.parent_span_id))
        .collect();
    roots.sort_by_key(|s| s.start_time);
    fn walk(
        s: &SpanData,
        prefix: &str,
        last: bool,
        root: bool,
        children: &HashMap<opentelemetry::trace::SpanId, Vec<&SpanData>>,
    ) {
        let attr = |k: &str| {
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.to_string())
        };
        let mut line = s.name.to_string();
        if let Some(p) = attr("gen_ai.provider.name") {
            line.push_str(&format!("  [{p}]"));
        }
        if let (Some(i), Some(o)) = (
            attr("gen_ai.usage.input_tokens"),
            attr("gen_ai.usage.output_tokens"),
        ) {
            line.push_str(&format!("  tokens {i}→{o}"));
        }
        if let Some(t) = attr("gen_ai.response.time_to_first_chunk") {
            line.push_str(&format!(
                "  first chunk {:.1} ms",
                t.parse::<f64>().unwrap_or(0.0) * 1e3
            ));
        }
        let ms = s
            .end_time
            .duration_since(s.start_time)
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3;
        line.push_str(&format!("  {ms:.1} ms"));
        let (branch, next) = if root {
            ("", String::new())
        } else if last {
            ("└─ ", format!("{prefix}   "))
        } else {
            ("├─ ", format!("{prefix}│  "))
        };
        println!("{prefix}{branch}{line}");
        if let Some(kids) = children.get(&s.span_context.span_id()) {
            for (i, k) in kids.iter().enumerate() {
                walk(k, &next, i + 1 == kids.len(), false, children);
            }
        }
    }
    for r in roots {
        walk(r, "", true, true, &children);
    }
}

async fn print_session_tree(base: &str, key: &str, session_key: &str) -> Result<(), BoxError> {
    let http = reqwest::Client::new();
    let logs: Value = http
        .get(url::Url::parse_with_params(
            &format!("{base}/logs"),
            [("session_reference_id", session_key)],
        )?)
        .header("X-API-KEY", key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session_id = logs_list(&logs)
        .iter()
        .find_map(|l| l["session_id"].as_str())
        .ok_or("the endpoint has no log for this session")?
        .to_owned();
    let tree: Value = http
        .get(format!("{base}/sessions/{session_id}"))
        .header("X-API-KEY", key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("session {session_id} (reference {session_key})");
    let roots = tree["datapoints"]
        .as_array()
        .or_else(|| tree["logs"].as_array())
        .or_else(|| tree["children"].as_array())
        .cloned()
        .unwrap_or_default();
    fn walk(node: &Value, prefix: &str, last: bool) {
        let config = &node["config"];
        let what = match config["type"].as_str() {
            Some("tool") => format!("step {}", config["name"].as_str().unwrap_or("?")),
            Some("model") => format!(
                "{} {}",
                config["provider"].as_str().unwrap_or("model"),
                config["model"].as_str().unwrap_or("?")
            ),
            _ => match node["model_config_id"]
                .as_str()
                .or(node["config_id"].as_str())
            {
                Some(id) => format!("completion {id}"),
                None => "datapoint".to_owned(),
            },
        };
        let mut line = format!("{what}  {}", node["id"].as_str().unwrap_or(""));
        if let (Some(i), Some(o)) = (
            node["prompt_tokens"].as_i64(),
            node["output_tokens"].as_i64(),
        ) {
            line.push_str(&format!("  tokens {i}→{o}"));
        }
        if let Some(out) = node["output"].as_str() {
            let short: String = out.chars().take(48).collect();
            let more = if out.chars().count() > 48 { "…" } else { "" };
            line.push_str(&format!("  \"{short}{more}\""));
        }
        println!("{prefix}{}{line}", if last { "└─ " } else { "├─ " });
        let kids = node["children"].as_array().cloned().unwrap_or_default();
        let next = format!("{prefix}{}", if last { "   " } else { "│  " });
        for (i, k) in kids.iter().enumerate() {
            walk(k, &next, i + 1 == kids.len());
        }
    }
    for (i, r) in roots.iter().enumerate() {
        walk(r, "", i + 1 == roots.len());
    }
    Ok(())
}

fn logs_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => other["records"]
            .as_array()
            .or_else(|| other["data"].as_array())
            .or_else(|| other["logs"].as_array())
            .cloned()
            .unwrap_or_default(),
    }
}
