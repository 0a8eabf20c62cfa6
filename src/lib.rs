//! # humanloop-tracing
//!
//! Observability for every LLM call a Rust service makes, as one middleware layer.
//!
//! * A [`tower::Layer`](tower_layer::Layer) and a `reqwest_middleware::Middleware` wrap
//!   LLM HTTP calls (OpenAI, Anthropic, Gemini, Azure, any OpenAI-compatible server)
//!   without changing a byte the caller sees and without buffering streams.
//! * Every call becomes a `tracing` span following the OpenTelemetry GenAI semantic
//!   conventions, viewable in any OpenTelemetry backend through `tracing-opentelemetry`.
//! * The span tree maps onto the endpoint's hierarchy: sessions and steps.
//! * A background exporter ships each call as a log to a Humanloop-style endpoint, and
//!   [`Client`] makes completion calls through it.
//! * Feature `server`: a compatible local endpoint (SQLite).
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(missing_docs)]

pub mod api;
pub mod capture;
#[cfg(feature = "transport")]
pub mod client;
// Without a transport the exporter still needs the retry policy's arithmetic.
pub mod config;
pub mod error;
pub mod export;
pub mod hierarchy;
mod hooks;
pub mod middleware;
pub mod pricing;
pub mod provider;
#[cfg(not(feature = "transport"))]
#[allow(dead_code)]
#[path = "client/retry.rs"]
mod retry;
pub mod semconv;
#[cfg(feature = "server")]
pub mod server;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "transport")]
pub use client::Client;
pub use config::{Config, ConfigBuilder, ConfigError};
pub use error::Error;
pub use export::{ExportError, ExportStats};
pub use hierarchy::{session, step};
pub use hooks::hook_panics;
#[cfg(feature = "reqwest")]
pub use middleware::HumanloopMiddleware;
#[cfg(feature = "tower")]
pub use middleware::{HumanloopLayer, HumanloopService};

/// The handle a service creates once: it owns the configuration, the endpoint client and
/// the background exporter, and hands out the layers. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// let hl = humanloop_tracing::Humanloop::new(humanloop_tracing::Config::from_env()?)?;
/// // ... add hl.middleware() / hl.layer() / hl.tracing_layer() ...
/// hl.shutdown(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Humanloop {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    #[cfg(feature = "transport")]
    pub(crate) client: Client,
    pub(crate) exporter: export::LogExporter,
}

impl fmt::Debug for Humanloop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Humanloop")
            .field("config", &self.inner.config)
            .field("stats", &self.inner.exporter.stats())
            .finish()
    }
}

impl Humanloop {
    /// Start with `config`: builds the endpoint client and starts the exporter's worker.
    /// Works inside or outside a tokio runtime.
    pub fn new(config: Config) -> Result<Humanloop, Error> {
        #[cfg(feature = "transport")]
        let client = Client::from_config(&config)?;
        let exporter = export::LogExporter::start(&config);
        #[cfg(feature = "transport")]
        let barrier_exporter = exporter.clone();
        #[cfg(feature = "transport")]
        let barrier_timeout = config.export.export_timeout;
        #[cfg(feature = "transport")]
        let client = client.with_parent_barrier(Arc::new(move || {
            let exporter = barrier_exporter.clone();
            Box::pin(async move {
                // Best effort: if the endpoint is down the call itself will say so.
                let _ = exporter.flush(barrier_timeout).await;
            })
        }));
        Ok(Humanloop {
            inner: Arc::new(Inner {
                config,
                #[cfg(feature = "transport")]
                client,
                exporter,
            }),
        })
    }

    /// [`Humanloop::new`] with [`Config::from_env`].
    pub fn from_env() -> Result<Humanloop, Error> {
        Self::new(Config::from_env()?)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The endpoint client (completion calls, logs, sessions).
    #[cfg(feature = "transport")]
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Queue a log of your own (a non-HTTP model call, an evaluation, …) for the background
    /// exporter, without blocking. Unset `project`/`project_id`/`source`/`environment`/`save`
    /// take the configured defaults. Returns `false` when the record was dropped (queue
    /// full, exporter shut down, or tracing disabled); drops are counted in [`stats`](Self::stats).
    ///
    /// ```no_run
    /// # fn demo(hl: &humanloop_tracing::Humanloop) {
    /// use humanloop_tracing::api::{LogConfig, LogRequest, ToolConfig};
    /// hl.log(LogRequest {
    ///     config: Some(LogConfig::Tool(ToolConfig::new("rerank"))),
    ///     output: Some("3 documents kept".into()),
    ///     ..LogRequest::default()
    /// });
    /// # }
    /// ```
    pub fn log(&self, mut log: api::LogRequest) -> bool {
        let config = &self.inner.config;
        if !config.enabled {
            return false;
        }
        if log.project.is_none() && log.project_id.is_none() {
            log.project = config.project.clone();
            log.project_id = config.project_id.clone();
        }
        if log.source.is_none() {
            log.source = config.source.clone();
        }
        if log.environment.is_none() {
            log.environment = config.environment.clone();
        }
        if log.save.is_none() && !config.save {
            log.save = Some(false);
        }
        self.inner
            .exporter
            .submit(export::ExportRecord::Create(Box::new(log)))
    }

    /// Exporter counters: queued, sent, retried, dropped, failed.
    pub fn stats(&self) -> ExportStats {
        self.inner.exporter.stats()
    }

    /// Deliver everything queued; an error says how many records were not delivered.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ExportError> {
        self.inner.exporter.flush(timeout).await
    }

    /// Flush, then stop the exporter. Calls made afterwards are traced but not logged.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        self.inner.exporter.shutdown(timeout).await
    }
}
