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
//!   [`Humanloop::client`] (feature `transport`) makes completion calls through it, traced.
//! * Feature `server`: a compatible local endpoint (SQLite).
//! * Feature `proxy`: a tracing reverse proxy for clients that take no middleware.
//!
//! # Module map
//!
//! [`Humanloop`] (this file) only assembles the parts. Below it, a module uses only modules
//! in rows below its own (checked by `tests/module_dependencies.rs`, which compares this
//! table with the README's):
//!
//! <!-- module-map:start -->
//! | layer | modules | holds |
//! |---|---|---|
//! | adapters | `proxy`, `middleware`, `completion` | the reverse proxy; the tower and reqwest adapters (glue only); the traced completion facade over the endpoint client |
//! | capture | `capture` | the body tee, the SSE splitter, the in-flight call record and the recorder it reports to |
//! | endpoint | `server` | the compatible local endpoint (feature `server`): it uses the wire types and the codecs, never the adapters |
//! | span tree | `hierarchy` | sessions, steps and reference ids from the span tree; the typed step constructors |
//! | conventions | `semconv` | GenAI attribute keys and metric names per profile (one table), and their recording |
//! | exporter | `export` | the background exporter: bounded queue, batching, causal order, flush and shutdown |
//! | transport | `client` | the endpoint protocol both HTTP transports speak, the retry loop, and the plain reqwest endpoint client (feature `transport`): wire requests, streams (no tracing, no exporter) |
//! | errors | `error` | the endpoint client's error enum |
//! | configuration | `config` | `Config`, its builder, the environment table |
//! | codecs | `provider`, `pricing` | one codec per LLM API (pure functions of bytes); token prices |
//! | leaves | `api`, `redact`, `hooks`, `otel` | the endpoint's wire types; secret key lists and the JSON walker; hook-panic containment; the recommended OpenTelemetry layer (feature `otel`) |
//! <!-- module-map:end -->
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(missing_docs)]

pub mod api;
mod capture;
pub mod client;
#[cfg(feature = "transport")]
pub mod completion;
pub mod config;
pub mod error;
pub mod export;
pub mod hierarchy;
mod hooks;
pub mod middleware;
#[cfg(feature = "otel")]
pub mod otel;
pub mod pricing;
pub mod provider;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod redact;
pub mod semconv;
#[cfg(feature = "server")]
pub mod server;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use capture::TeeBody;
#[cfg(feature = "transport")]
pub use client::Client;
#[cfg(feature = "transport")]
pub use completion::TracedClient;
pub use config::{Config, ConfigBuilder, ConfigError};
pub use error::Error;
pub use export::{ExportError, ExportStats};
pub use hierarchy::{agent, session, step, tool};
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
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    #[cfg(feature = "transport")]
    client: TracedClient,
    exporter: export::LogExporter,
    /// What the adapters record calls with.
    #[cfg_attr(not(any(feature = "tower", feature = "reqwest")), allow(dead_code))]
    recorder: capture::Recorder,
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
    /// Start with `config`: builds the endpoint client (feature `transport`) and starts the
    /// exporter's worker. Works inside or outside a tokio runtime.
    pub fn new(config: Config) -> Result<Humanloop, Error> {
        Self::with_exporter(config, export::LogExporter::builder())
    }

    /// [`Humanloop::new`] with an exporter set up by `exporter`: another sink (e.g. an
    /// in-memory [`MemorySink`](export::MemorySink)), or the worker on a runtime of yours.
    pub fn with_exporter(
        config: Config,
        exporter: export::ExporterBuilder,
    ) -> Result<Humanloop, Error> {
        #[cfg(feature = "transport")]
        let client = Client::from_config(&config)?;
        let exporter = exporter.start(&config)?;
        #[cfg(feature = "transport")]
        let client = Self::traced_client(client, &exporter, &config);
        let recorder = capture::Recorder::new(config.clone(), exporter.clone());
        Ok(Humanloop {
            inner: Arc::new(Inner {
                config,
                #[cfg(feature = "transport")]
                client,
                exporter,
                recorder,
            }),
        })
    }

    /// The endpoint client, its completion calls traced and waiting for the exporter to
    /// deliver a parent step first.
    #[cfg(feature = "transport")]
    fn traced_client(
        client: Client,
        exporter: &export::LogExporter,
        config: &Config,
    ) -> TracedClient {
        let barrier_exporter = exporter.clone();
        let barrier_timeout = config.export.export_timeout;
        let barrier: completion::ParentBarrier = Arc::new(move || {
            let exporter = barrier_exporter.clone();
            Box::pin(async move {
                // Best effort: if the endpoint is down the call itself will say so.
                exporter.settle(barrier_timeout).await;
            })
        });
        TracedClient::new(client, barrier, config)
    }

    /// [`Humanloop::new`] with [`Config::from_env`].
    pub fn from_env() -> Result<Humanloop, Error> {
        Self::new(Config::from_env()?)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The endpoint client (completion calls, logs, sessions), its completion calls traced
    /// and filed under the caller's session and step (feature `transport`).
    #[cfg(feature = "transport")]
    pub fn client(&self) -> &TracedClient {
        &self.inner.client
    }

    /// Queue a log of your own (a non-HTTP model call, an evaluation, …) for the background
    /// exporter, without blocking. Unset `project`/`project_id`/`source`/`environment`/`save`
    /// take the configured defaults. Returns `false` when the record was dropped (queue
    /// full, exporter shut down, or tracing disabled); drops are counted in [`stats`](Self::stats).
    ///
    /// ```no_run
    /// # fn demo(hl: &humanloop_tracing::Humanloop) {
    /// use humanloop_tracing::api::{LogRequest, ToolConfig};
    /// hl.log(
    ///     LogRequest::default()
    ///         .with_config(ToolConfig::new("rerank"))
    ///         .with_output("3 documents kept"),
    /// );
    /// # }
    /// ```
    pub fn log(&self, mut log: api::LogRequest) -> bool {
        let config = &self.inner.config;
        if !config.enabled {
            return false;
        }
        config.log_defaults().stamp(&mut log);
        self.inner
            .exporter
            .submit(export::ExportRecord::Create(Box::new(log)))
    }

    /// Exporter counters: queued, sent, retried, dropped, failed.
    pub fn stats(&self) -> ExportStats {
        self.inner.exporter.stats()
    }

    /// Deliver everything queued (after [`flush_spans`](Self::flush_spans)); an error
    /// says how many records were not delivered.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ExportError> {
        self.flush_spans();
        self.inner.exporter.flush(timeout).await
    }

    /// Flush, then stop the exporter. Calls made afterwards are traced but not logged.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        self.flush_spans();
        self.inner.exporter.shutdown(timeout).await
    }

    /// [`Humanloop::flush`] for code outside async contexts
    /// (it blocks the calling thread; do not call it on an async executor thread).
    pub fn flush_blocking(&self, timeout: Duration) -> Result<(), ExportError> {
        self.flush_spans();
        self.inner.exporter.flush_blocking(timeout)
    }

    /// [`Humanloop::shutdown`] for code outside async contexts
    /// (it blocks the calling thread; do not call it on an async executor thread).
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), ExportError> {
        self.flush_spans();
        self.inner.exporter.shutdown_blocking(timeout)
    }

    /// Wait until every LLM call that has finished is completed: its span closed (so your
    /// subscriber has it; an OpenTelemetry span processor exports it from there) and its
    /// log queued for the exporter.
    ///
    /// A call's span ends (its end time is taken) on the caller's thread the moment the
    /// call finishes. A plain call is completed there too; a stream's kept events are
    /// decoded, its response attributes and metrics recorded and its span closed on a
    /// background thread of this handle, shortly after, so that the caller's path stays
    /// short. Code that reads spans right after a call (a test with an in-memory
    /// exporter, say) calls this first;
    /// [`flush`](Self::flush) and [`shutdown`](Self::shutdown) call it too. It blocks
    /// the calling thread only while the calls finished before it are completed (no
    /// network, no lock held), so it may be called from async code.
    ///
    /// ```no_run
    /// # async fn demo(hl: humanloop_tracing::Humanloop, client: reqwest_middleware::ClientWithMiddleware) {
    /// let answer = client.post("http://127.0.0.1:11434/v1/chat/completions").send().await;
    /// let _ = answer.unwrap().bytes().await;
    /// hl.flush_spans(); // the call's span is now with the subscriber
    /// # }
    /// ```
    pub fn flush_spans(&self) {
        #[cfg(any(feature = "tower", feature = "reqwest"))]
        self.inner.recorder.wait_finished();
    }

    /// The `tracing_subscriber::Layer` that maps spans onto sessions and steps and logs
    /// steps (see [`hierarchy`]). Install it once, beside
    /// `tracing_opentelemetry::layer()` or not, in any order. With `enabled = false` it does
    /// nothing.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// let hl = humanloop_tracing::Humanloop::new(
    ///     humanloop_tracing::Config::builder().base_url("http://127.0.0.1:9/v4").build().unwrap(),
    /// ).unwrap();
    /// let subscriber = tracing_subscriber::registry().with(hl.tracing_layer());
    /// # drop(subscriber);
    /// ```
    pub fn tracing_layer(&self) -> hierarchy::HierarchyLayer {
        hierarchy::HierarchyLayer::new(&self.inner.config, self.inner.exporter.submitter())
    }

    /// A [`tower_layer::Layer`] that traces and logs the LLM calls made through the
    /// service it wraps (see [`HumanloopService`] for the bounds on request bodies).
    #[cfg(feature = "tower")]
    pub fn layer(&self) -> HumanloopLayer {
        HumanloopLayer::new(self.inner.recorder.clone())
    }

    /// A `reqwest_middleware::Middleware` that traces and logs the LLM calls made
    /// through the client it is added to.
    #[cfg(feature = "reqwest")]
    pub fn middleware(&self) -> HumanloopMiddleware {
        HumanloopMiddleware::new(self.inner.recorder.clone())
    }
}

#[cfg(feature = "async-openai")]
impl Humanloop {
    /// The HTTP service for async-openai's `Client::with_http_service` (feature
    /// `async-openai`, async-openai's `middleware` feature): calls go through `http`
    /// with [`middleware`](Humanloop::middleware), plain and streaming, under
    /// async-openai's default retry layer (see
    /// [`AsyncOpenAiService`](middleware::AsyncOpenAiService) for how retries are logged).
    ///
    /// ```no_run
    /// # fn demo(hl: humanloop_tracing::Humanloop) {
    /// let client = async_openai::Client::new()
    ///     .with_http_service(hl.async_openai_service(reqwest::Client::new()));
    /// # }
    /// ```
    pub fn async_openai_service(&self, http: reqwest::Client) -> middleware::AsyncOpenAiService {
        middleware::AsyncOpenAiService::new(self.middleware(), http)
    }
}
