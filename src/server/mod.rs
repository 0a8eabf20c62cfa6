//! The compatible local endpoint: the Humanloop v4 API (as its v4 SDKs call it), stored in
//! SQLite.
//!
//! It records logs, feedback, sessions, projects and model configs (with their
//! deployments to environments), and makes completions and chats through one of three
//! providers:
//!
//! * `mock`: built in, no network; its output is derived from the rendered prompt, so
//!   tests and demos are deterministic;
//! * `openai`: any OpenAI-compatible server (`other.base_url` of the model config, then
//!   [`ServerConfig::openai_base_url`], then env `OPENAI_BASE_URL`, then OpenAI itself); key
//!   from `provider_api_keys.openai`, then env `OPENAI_API_KEY`;
//! * `anthropic`: the Messages API, configured the same way (`ANTHROPIC_BASE_URL`,
//!   `ANTHROPIC_API_KEY`).
//!
//! Tools registered in Humanloop's shape (`name`, `description`, `parameters`) are sent to
//! OpenAI as `{type: "function", function: {…}}` and to Anthropic with `input_schema`.
//!
//! | routes (under `/v4`) | answers (the v4 SDK's models) |
//! |---|---|
//! | `POST /logs` (one or an array), `GET /logs`, `GET/PATCH /logs/{id}`, `PATCH /logs?reference_id=`, `DELETE /logs?id=` | `CreateLogResponse`(s), `PaginatedDataLogResponse`, `LogResponse` |
//! | `POST /feedback` | `FeedbackResponse`(s) |
//! | `POST/GET /sessions`, `GET /sessions/{id}` | `CreateSessionResponse`, `PaginatedDataSessionResponse`, `SessionResponse` (+ the log tree under `datapoints`) |
//! | `POST /model-configs`, `GET /model-configs/{id}`, `/serialize`, `/deserialize`, `/{id}/export` | `ProjectConfigResponse`, `ModelConfigResponse`, `.prompt` text |
//! | `/projects…` (create, list, get, update, delete, configs, active config, deploy, deployed configs, feedback types, export) | `ProjectResponse`, `ProjectConfigResponse`, `EnvironmentProjectConfigResponse` |
//! | `POST /completion`, `/completion-model-config`, `/completion-deployed`, `/chat`, `/chat-model-config`, `/chat-deployed` | `CompletionResponse`/`ChatResponse`, JSON or data-only SSE |
//! | datasets, evaluations, evaluators | 501 with a `detail` |
//!
//! A `reference_id` names one datapoint within its project (a reuse in another session of
//! the project is a 409), and a `parent_reference_id` is looked up in the child's session
//! (or, when the child names none, anywhere it is unique). A parent must come from an
//! earlier request.
//!
//! Guarantees:
//! * a 2xx answer means the data is committed (SQLite WAL with `synchronous=FULL`); in a
//!   stream, each sample's log is committed before that sample's last chunk is sent (a
//!   client that leaves mid-stream leaves the unfinished samples unlogged);
//! * a repeated `POST /logs` with the same `reference_id` in the same session returns the
//!   existing datapoint, so client retries never duplicate;
//! * `provider_api_keys` are never stored nor echoed;
//! * bad input gets a 4xx with a `detail` (422 in the validation shape of `SPEC.md`), never a
//!   500 or a crash; SQLite work runs off the async executor.
//!
//! Start it in-process (what the quickstart and the tests do):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use humanloop_tracing::server::{self, ServerConfig};
//!
//! let handle = server::spawn(ServerConfig::in_memory(), "127.0.0.1:0".parse()?).await?;
//! println!("endpoint at {}", handle.base_url()); // http://127.0.0.1:PORT/v4
//! // ... point HUMANLOOP_BASE_URL at it ...
//! handle.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Or from the command line: `humanloop-tracing serve --addr 127.0.0.1:8787 --db humanloop.db`.

mod completion;
mod error;
mod projects;
mod prompt_file;
mod providers;
mod render;
mod routes;
mod store;
mod ui;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Default request body limit: 10 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Default cap on `num_samples` per completion request.
pub const DEFAULT_MAX_SAMPLES: u32 = 16;

/// Where the server keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// A private in-memory database, gone when the server stops.
    Memory,
    /// A SQLite file, created if missing.
    Path(PathBuf),
}

/// How to run the server. Build with [`ServerConfig::in_memory`] or [`ServerConfig::with_db`]
/// and the chained setters.
///
/// ```
/// use humanloop_tracing::server::ServerConfig;
/// let config = ServerConfig::with_db("humanloop.db")
///     .api_key("secret")
///     .body_limit(1 << 20)
///     .openai_base_url("http://127.0.0.1:8000/v1");
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    pub(crate) database: Database,
    pub(crate) api_keys: Vec<String>,
    pub(crate) body_limit: usize,
    pub(crate) max_samples: u32,
    pub(crate) openai_base_url: Option<String>,
    pub(crate) anthropic_base_url: Option<String>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("database", &self.database)
            .field(
                "api_keys",
                &format_args!("[{} configured]", self.api_keys.len()),
            )
            .field("body_limit", &self.body_limit)
            .field("max_samples", &self.max_samples)
            // A base URL may carry `user:password@`.
            .field("openai_base_url", &shown_url(&self.openai_base_url))
            .field("anthropic_base_url", &shown_url(&self.anthropic_base_url))
            .finish()
    }
}

fn shown_url(url: &Option<String>) -> Option<std::borrow::Cow<'_, str>> {
    url.as_deref().map(crate::config::redact_userinfo)
}

impl ServerConfig {
    /// A server on a private in-memory database, open to everyone (no API keys).
    pub fn in_memory() -> Self {
        Self::new(Database::Memory)
    }

    /// A server on the SQLite file at `path` (created if missing), open to everyone.
    pub fn with_db(path: impl Into<PathBuf>) -> Self {
        Self::new(Database::Path(path.into()))
    }

    fn new(database: Database) -> Self {
        Self {
            database,
            api_keys: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            max_samples: DEFAULT_MAX_SAMPLES,
            openai_base_url: None,
            anthropic_base_url: None,
        }
    }

    /// Accept `key` in the `X-API-KEY` header. Once any key is configured, requests without
    /// a configured key get 401; with none the server is open (local development).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if !key.is_empty() {
            self.api_keys.push(key);
        }
        self
    }

    /// Accept each of `keys` (see [`ServerConfig::api_key`]).
    pub fn api_keys<I, K>(self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        keys.into_iter().fold(self, |c, k| c.api_key(k))
    }

    /// Largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]); larger
    /// bodies get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Largest `num_samples` accepted (default [`DEFAULT_MAX_SAMPLES`]).
    pub fn max_samples(mut self, n: u32) -> Self {
        self.max_samples = n.max(1);
        self
    }

    /// Base URL of the OpenAI-compatible server used when a model config does not name one
    /// in `other.base_url` (before env `OPENAI_BASE_URL`), e.g. `http://127.0.0.1:8000/v1`.
    pub fn openai_base_url(mut self, url: impl Into<String>) -> Self {
        self.openai_base_url = Some(url.into());
        self
    }

    /// Base URL of the Anthropic Messages API (before env `ANTHROPIC_BASE_URL`), e.g.
    /// `https://api.anthropic.com/v1`.
    pub fn anthropic_base_url(mut self, url: impl Into<String>) -> Self {
        self.anthropic_base_url = Some(url.into());
        self
    }
}

/// Errors starting or stopping the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The address could not be bound, or serving failed.
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP client for providers could not be built.
    #[error("cannot build the provider HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The server task panicked or was cancelled.
    #[error("the server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Shared state of the routes: the store, the keys, the providers. Cheap to clone.
#[derive(Clone)]
pub struct ServerState {
    pub(crate) inner: Arc<StateInner>,
}

pub(crate) struct StateInner {
    pub(crate) store: store::Store,
    pub(crate) api_keys: Vec<String>,
    pub(crate) body_limit: usize,
    pub(crate) max_samples: u32,
    pub(crate) providers: providers::Providers,
}

impl fmt::Debug for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerState")
            .field(
                "api_keys",
                &format_args!("[{} configured]", self.inner.api_keys.len()),
            )
            .field("body_limit", &self.inner.body_limit)
            .finish_non_exhaustive()
    }
}

impl ServerState {
    /// Run `f` on the store and answer its value as JSON: what most routes do.
    pub(crate) async fn answer<T, F>(&self, f: F) -> Result<axum::Json<T>, error::ApiError>
    where
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, store::StoreError> + Send + 'static,
        T: Send + 'static,
    {
        Ok(axum::Json(self.inner.store.run(f).await?))
    }

    /// Open the database (creating tables as needed); the provider client is built on the
    /// first provider call.
    pub fn open(config: &ServerConfig) -> Result<Self, ServerError> {
        let store = store::Store::open(&config.database)?;
        let providers = providers::Providers::new(
            config.openai_base_url.clone(),
            config.anthropic_base_url.clone(),
        );
        Ok(Self {
            inner: Arc::new(StateInner {
                store,
                api_keys: config.api_keys.clone(),
                body_limit: config.body_limit,
                max_samples: config.max_samples,
                providers,
            }),
        })
    }
}

/// The `/v4` routes as an [`axum::Router`], for embedding in a larger application.
///
/// ```no_run
/// # fn demo() -> Result<(), humanloop_tracing::server::ServerError> {
/// use humanloop_tracing::server::{router, ServerConfig, ServerState};
/// let app: axum::Router = router(ServerState::open(&ServerConfig::in_memory())?);
/// # Ok(()) }
/// ```
pub fn router(state: ServerState) -> axum::Router {
    routes::router(state)
}

/// A running server started by [`spawn`]. Dropping it stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// The address the server listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, `http://ADDR/v4`, to give to clients.
    pub fn base_url(&self) -> String {
        format!("http://{}/v4", self.addr)
    }

    /// Stop accepting connections, let requests in flight finish, and wait for the end.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => Ok(task.await??),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Open the database, bind `addr` (port 0 picks a free port) and serve in a background task
/// of the current tokio runtime.
pub async fn spawn(config: ServerConfig, addr: SocketAddr) -> Result<ServerHandle, ServerError> {
    let state = tokio::task::spawn_blocking(move || ServerState::open(&config)).await??;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
