//! What every example needs to run offline: the local endpoint in-process (in-memory
//! SQLite) and the demo provider, both on loopback, and a `Humanloop` pointed at them.
#![allow(dead_code)] // each example uses part of it

#[path = "demo_provider.rs"]
mod demo_provider;

use humanloop_tracing::server::{self, ServerConfig, ServerHandle};
use humanloop_tracing::{Config, ConfigBuilder, Humanloop};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The running pieces of an example.
pub struct Local {
    /// The handle, configured for the local endpoint.
    pub hl: Humanloop,
    /// The demo provider's OpenAI base URL (`http://127.0.0.1:P/v1`).
    pub provider: String,
    /// The local endpoint.
    pub endpoint: ServerHandle,
}

/// Start the endpoint and the provider; `config` is completed with the endpoint's URL.
pub async fn start(config: ConfigBuilder) -> Result<Local, BoxError> {
    // reqwest is built with rustls and no default crypto provider: pick ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = demo_provider::start().await?;
    let endpoint = server::spawn(
        ServerConfig::in_memory().openai_base_url(provider.clone()),
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let hl = Humanloop::new(
        config
            .base_url(endpoint.base_url())
            .project("examples")
            .build()?,
    )?;
    Ok(Local {
        hl,
        provider,
        endpoint,
    })
}

/// What the example's subscriber does besides the crate's layer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Spans {
    /// Only `hl.tracing_layer()` (spans become logs; nothing printed).
    Logged,
    /// Also print the crate's spans to the terminal as they close (any tracing subscriber
    /// works; see otlp.rs).
    Printed,
}

/// [`start`] with the default configuration, and the process's subscriber installed:
/// `tracing_subscriber::registry().with(hl.tracing_layer())`, plus a printer with
/// [`Spans::Printed`].
pub async fn start_traced(spans: Spans) -> Result<Local, BoxError> {
    let local = start(Config::builder()).await?;
    let printer = (spans == Spans::Printed).then(|| {
        tracing_subscriber::fmt::layer()
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_filter(tracing_subscriber::EnvFilter::new("humanloop_tracing=info"))
    });
    tracing_subscriber::registry()
        .with(local.hl.tracing_layer())
        .with(printer)
        .init();
    Ok(local)
}

/// The logs the endpoint holds, one line each.
pub async fn print_logs(endpoint: &ServerHandle) -> Result<(), BoxError> {
    let logs: serde_json::Value = reqwest::get(format!("{}/logs", endpoint.base_url()))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let list = logs
        .as_array()
        .or_else(|| logs["records"].as_array())
        .or_else(|| logs["data"].as_array())
        .cloned()
        .unwrap_or_default();
    println!("the endpoint holds {} log(s):", list.len());
    for log in list {
        let config = &log["config"];
        println!(
            "  {} {:<6} {:<24} session={} parent={} tokens={}→{} output={:?}",
            log["id"].as_str().unwrap_or("?"),
            config["type"].as_str().unwrap_or("completion"),
            config["model"]
                .as_str()
                .or(config["name"].as_str())
                .or(log["model_config_id"].as_str())
                .unwrap_or("?"),
            log["session_reference_id"].as_str().unwrap_or("-"),
            log["parent_reference_id"].as_str().unwrap_or("-"),
            log["prompt_tokens"],
            log["output_tokens"],
            log["output"]
                .as_str()
                .map(|s| s.chars().take(40).collect::<String>())
                .unwrap_or_default(),
        );
    }
    Ok(())
}
