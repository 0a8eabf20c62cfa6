//! Configuration: where logs go, what they carry, and the hooks that shape them.
//!
//! Every knob has a builder method and most have an environment variable, so operators
//! can change behaviour without a rebuild. [`Config::from_env`] reads the variables;
//! [`ConfigBuilder::from_env`] starts from them and lets code override.
//!
//! ```
//! use humanloop_tracing::Config;
//!
//! let config = Config::builder()
//!     .base_url("http://127.0.0.1:8787/v4")
//!     .api_key("hl-local")
//!     .project("travel-agent")
//!     .capture_content(true)
//!     .redact(|text: &mut String| *text = text.replace("4111-1111-1111-1111", "[card]"))
//!     .build()
//!     .unwrap();
//! assert_eq!(config.project(), Some("travel-agent"));
//! // The key never shows in Debug output.
//! assert!(!format!("{config:?}").contains("hl-local"));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{JsonMap, LogRequest};
use crate::provider::{Codec, Registry};
use crate::redact::Secret as SecretString;

/// The default endpoint (the hosted service, shut down in 2025: point this at your own).
pub const DEFAULT_BASE_URL: &str = "https://api.humanloop.com/v4";

/// Errors in configuration: a variable that does not parse, a URL that is not one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable holds a value that does not parse.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// Its value (never a secret: key variables are not parsed).
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// The base URL is not an absolute http(s) URL (shown with any `user:password@` masked).
    #[error("base URL {0:?} is not an absolute http(s) URL")]
    InvalidBaseUrl(String),
    /// A value is out of range.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What was expected.
        reason: &'static str,
    },
}

pub(crate) use crate::redact::redact_userinfo;
pub use crate::redact::Secret;

/// Text redaction hook: sees every content string (message texts, outputs, tool
/// arguments and results, step inputs and outputs) before it is recorded on a span or
/// put in a log. A panic inside is contained and counted; the content is then dropped.
pub type RedactFn = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Whole-record hook: sees each log just before it leaves the process; can edit it.
/// Return `false` to drop the record. A panic inside is contained and counted.
pub type OnLogFn = Arc<dyn Fn(&mut LogRequest) -> bool + Send + Sync>;

pub use crate::pricing::Price;
use crate::pricing::Prices;

/// Exporter knobs, modelled on OpenTelemetry's `OTEL_BSP_*`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ExportConfig {
    /// Bounded queue capacity; past it the newest record is dropped and counted.
    /// `HUMANLOOP_EXPORT_MAX_QUEUE_SIZE`, default 4096.
    pub max_queue_size: usize,
    /// Records per `POST /logs`. `HUMANLOOP_EXPORT_MAX_BATCH_SIZE`, default 512.
    pub max_batch_size: usize,
    /// Longest a record waits before a batch is sent.
    /// `HUMANLOOP_EXPORT_SCHEDULE_DELAY` (ms), default 500.
    pub schedule_delay: Duration,
    /// Timeout of one export request. `HUMANLOOP_EXPORT_TIMEOUT` (ms), default 30 000.
    pub export_timeout: Duration,
    /// Durable spool directory (opt-in). `HUMANLOOP_SPOOL_DIR`.
    pub spool_dir: Option<PathBuf>,
    /// Spool size cap in bytes. `HUMANLOOP_SPOOL_MAX_BYTES`, default 256 MiB.
    pub spool_max_bytes: u64,
    /// How the exporter retries while the endpoint is unavailable (one request at a time).
    /// Default [`RetryPolicy::until_delivered`]: no attempt or time budget, 500 ms to 30 s
    /// between probes. A bounded policy fails the records once it is spent.
    pub retry: RetryPolicy,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            max_queue_size: 4096,
            max_batch_size: 512,
            schedule_delay: Duration::from_millis(500),
            export_timeout: Duration::from_secs(30),
            spool_dir: None,
            spool_max_bytes: 256 * 1024 * 1024,
            retry: RetryPolicy::until_delivered(),
        }
    }
}

/// Retry policy of the endpoint client: 408, 429, 5xx and connection errors only,
/// exponential backoff with full jitter, honouring `Retry-After`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included. `HUMANLOOP_MAX_RETRIES` sets this minus one.
    pub max_attempts: u32,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Longest single backoff (and longest `Retry-After` honoured).
    pub max_backoff: Duration,
    /// Give up once this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Where the endpoint is and how to talk to it: what [`ClientBuilder`](crate::client::ClientBuilder)
/// builds a client from.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The endpoint's base URL, without a trailing slash.
    pub base_url: String,
    /// The API key (`X-API-KEY`), if any.
    pub api_key: Option<SecretString>,
    /// Retry policy of the endpoint client (and so of the exporter).
    pub retry: RetryPolicy,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Per-request timeout (streams: until the head arrives).
    pub request_timeout: Duration,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("base_url", &redact_userinfo(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "****"))
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// The fields every log starts from (project, source, environment, metadata, save).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LogDefaults {
    /// Default project name.
    pub project: Option<String>,
    /// Default project id.
    pub project_id: Option<String>,
    /// `source` of every log.
    pub source: Option<String>,
    /// `environment` of every log.
    pub environment: Option<String>,
    /// Metadata entries of every log traced by the layers (a span's own entries win).
    pub metadata: JsonMap,
    /// `save` flag of every log: false asks the endpoint not to store payloads.
    pub save: bool,
}

impl Default for LogDefaults {
    fn default() -> Self {
        Self {
            project: None,
            project_id: None,
            source: None,
            environment: None,
            metadata: JsonMap::new(),
            save: true,
        }
    }
}

impl LogDefaults {
    /// Fill the unset `project`/`project_id` (as a pair), `source`, `environment` and
    /// `save` of `log` with the defaults: the one place every log is stamped.
    pub(crate) fn stamp(&self, log: &mut LogRequest) {
        if log.project.is_none() && log.project_id.is_none() {
            log.project = self.project.clone();
            log.project_id = self.project_id.clone();
        }
        if log.source.is_none() {
            log.source = self.source.clone();
        }
        if log.environment.is_none() {
            log.environment = self.environment.clone();
        }
        if log.save.is_none() && !self.save {
            log.save = Some(false);
        }
    }
}

/// What content is recorded where, and how much.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ContentPolicy {
    /// Messages and outputs in logs (default on).
    pub log_content: bool,
    /// Messages and outputs on spans (default off, as the GenAI conventions require).
    pub capture_content: bool,
    /// Response bytes kept per call for decoding (default 1 MiB).
    pub max_capture_bytes: usize,
    /// Longest content attribute on a span (default 64 KiB).
    pub max_content_attribute_bytes: usize,
}

impl Default for ContentPolicy {
    fn default() -> Self {
        Self {
            log_content: true,
            capture_content: false,
            max_capture_bytes: 1024 * 1024,
            max_content_attribute_bytes: 64 * 1024,
        }
    }
}

/// The user's hooks: redaction of content strings, and a last look at every log.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Hooks {
    /// Runs on every content string before it is recorded anywhere.
    pub redact: Option<RedactFn>,
    /// Sees (and may edit or drop) every log before it leaves the process.
    pub on_log: Option<OnLogFn>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("redact", &self.redact.is_some())
            .field("on_log", &self.on_log.is_some())
            .finish()
    }
}

/// Which release of the OpenTelemetry GenAI conventions spans and metrics follow. Also
/// [`semconv::Profile`](crate::semconv::Profile), where the names of each are listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SemconvProfile {
    /// semantic-conventions v1.41.0: the names backends read today. The default.
    #[default]
    V1_41,
    /// semantic-conventions-genai v0.1.0 (`gen_ai_latest_experimental`): renamed cache-write
    /// usage, `gen_ai.client.inference.*` metrics with usage counters, `["error"]` as the
    /// finish reasons of a generation cut off early, `top_k` an int, workflows named as
    /// agents, and no `gen_ai.conversation.id` unless the session was named.
    GenAiV0_1,
}

impl SemconvProfile {
    /// The profile an `OTEL_SEMCONV_STABILITY_OPT_IN` value selects (a comma-separated
    /// list; `gen_ai_latest_experimental` anywhere in it selects v0.1).
    pub fn from_opt_in(value: &str) -> SemconvProfile {
        if value
            .split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("gen_ai_latest_experimental"))
        {
            SemconvProfile::GenAiV0_1
        } else {
            SemconvProfile::V1_41
        }
    }
}

/// The whole configuration, by concern. Build with [`Config::builder`] or
/// [`Config::from_env`].
#[derive(Clone)]
pub struct Config {
    pub(crate) enabled: bool,
    pub(crate) endpoint: EndpointConfig,
    pub(crate) log: LogDefaults,
    pub(crate) content: ContentPolicy,
    pub(crate) hooks: Hooks,
    /// `return_inputs` of completion calls that do not say.
    pub(crate) return_inputs: bool,
    pub(crate) sample_ratio: f64,
    pub(crate) prices: Prices,
    pub(crate) registry: Registry,
    pub(crate) export: ExportConfig,
    /// The GenAI conventions spans and metrics follow.
    pub(crate) semconv: SemconvProfile,
    /// W3C trace context on outgoing LLM requests.
    pub(crate) trace_context: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            endpoint: EndpointConfig::default(),
            log: LogDefaults::default(),
            content: ContentPolicy::default(),
            hooks: Hooks::default(),
            return_inputs: true,
            sample_ratio: 1.0,
            prices: Prices::default(),
            registry: Registry::builtin(),
            export: ExportConfig::default(),
            semconv: SemconvProfile::V1_41,
            trace_context: true,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("enabled", &self.enabled)
            .field("endpoint", &self.endpoint)
            .field("log", &self.log)
            .field("content", &self.content)
            .field("hooks", &self.hooks)
            .field("return_inputs", &self.return_inputs)
            .field("sample_ratio", &self.sample_ratio)
            .field("registry", &self.registry)
            .field("export", &self.export)
            .field("semconv", &self.semconv)
            .field("trace_context", &self.trace_context)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A builder with every default.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// The configuration the environment describes (see the README's table).
    pub fn from_env() -> Result<Config, ConfigError> {
        ConfigBuilder::from_env()?.build()
    }

    /// Whether tracing is on (`HUMANLOOP_TRACING_ENABLED`); off makes every layer a pass-through.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// Where the endpoint is and how to talk to it.
    pub fn endpoint(&self) -> &EndpointConfig {
        &self.endpoint
    }
    /// The fields every log starts from.
    pub fn log_defaults(&self) -> &LogDefaults {
        &self.log
    }
    /// What content is recorded where.
    pub fn content(&self) -> &ContentPolicy {
        &self.content
    }
    /// The user's hooks.
    pub fn hooks(&self) -> &Hooks {
        &self.hooks
    }
    /// The endpoint's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.endpoint.base_url
    }
    /// The API key, if any.
    pub fn api_key(&self) -> Option<&SecretString> {
        self.endpoint.api_key.as_ref()
    }
    /// Default project name.
    pub fn project(&self) -> Option<&str> {
        self.log.project.as_deref()
    }
    /// Default project id.
    pub fn project_id(&self) -> Option<&str> {
        self.log.project_id.as_deref()
    }
    /// The `save` flag sent with every log.
    pub fn save(&self) -> bool {
        self.log.save
    }
    /// Whether logs carry messages and outputs.
    pub fn log_content(&self) -> bool {
        self.content.log_content
    }
    /// Whether spans carry messages and outputs.
    pub fn capture_content(&self) -> bool {
        self.content.capture_content
    }
    /// Whether LLM calls carry the W3C trace context of their span (see
    /// [`ConfigBuilder::trace_context`]).
    pub fn trace_context(&self) -> bool {
        self.trace_context
    }
    /// Cap on captured response bytes per call.
    pub fn max_capture_bytes(&self) -> usize {
        self.content.max_capture_bytes
    }
    /// Exporter knobs.
    pub fn export(&self) -> &ExportConfig {
        &self.export
    }
    /// Retry policy of the endpoint client.
    pub fn retry(&self) -> &RetryPolicy {
        &self.endpoint.retry
    }
    /// The GenAI conventions spans and metrics follow (default v1.41; v0.1 with
    /// `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`).
    pub fn semconv_profile(&self) -> SemconvProfile {
        self.semconv
    }
    /// Codecs and host mapping.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    /// Token prices: the user's own, then the built-in table.
    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// Run the redaction hook on `text`, containing a panic. `false` means the hook
    /// panicked and the text must not be recorded (it has been cleared).
    pub(crate) fn redact_text(&self, text: &mut String) -> bool {
        let Some(hook) = &self.hooks.redact else {
            return true;
        };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(text))).is_ok();
        if !ok {
            text.clear();
            crate::hooks::record_hook_panic("redact");
        }
        ok
    }
}

/// Builder of [`Config`].
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
}

/// How one environment variable sets the configuration: `Err(reason)` when its value
/// does not parse.
type Apply = fn(&mut Config, &str) -> Result<(), &'static str>;

fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected true or false"),
    }
}

fn parse<T: std::str::FromStr>(v: &str, reason: &'static str) -> Result<T, &'static str> {
    v.trim().parse().map_err(|_| reason)
}

fn text(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Every environment variable [`ConfigBuilder::from_env`] reads, in the order it applies
/// them (a later one wins), with what it sets. The README's table lists the same names (a
/// unit test compares them). Blank values count as unset, except for the API key (an
/// empty one is).
const ENV: &[(&str, Apply)] = &[
    ("HUMANLOOP_TRACING_ENABLED", |c, v| {
        c.enabled = parse_bool(v)?;
        Ok(())
    }),
    ("HUMANLOOP_BASE_URL", |c, v| {
        c.endpoint.base_url = v.to_owned();
        Ok(())
    }),
    ("HUMANLOOP_API_KEY", |c, v| {
        c.endpoint.api_key = Some(SecretString::new(v));
        Ok(())
    }),
    ("HUMANLOOP_PROJECT", |c, v| {
        c.log.project = text(v);
        Ok(())
    }),
    ("HUMANLOOP_PROJECT_ID", |c, v| {
        c.log.project_id = text(v);
        Ok(())
    }),
    ("HUMANLOOP_SOURCE", |c, v| {
        c.log.source = text(v);
        Ok(())
    }),
    ("HUMANLOOP_ENVIRONMENT", |c, v| {
        c.log.environment = text(v);
        Ok(())
    }),
    ("HUMANLOOP_SAVE", |c, v| {
        c.log.save = parse_bool(v)?;
        Ok(())
    }),
    ("HUMANLOOP_RETURN_INPUTS", |c, v| {
        c.return_inputs = parse_bool(v)?;
        Ok(())
    }),
    ("HUMANLOOP_LOG_CONTENT", |c, v| {
        c.content.log_content = parse_bool(v)?;
        Ok(())
    }),
    (
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        |c, v| {
            c.content.capture_content = parse_bool(v)?;
            Ok(())
        },
    ),
    ("HUMANLOOP_CAPTURE_CONTENT", |c, v| {
        c.content.capture_content = parse_bool(v)?;
        Ok(())
    }),
    ("OTEL_SEMCONV_STABILITY_OPT_IN", |c, v| {
        c.semconv = SemconvProfile::from_opt_in(v);
        Ok(())
    }),
    ("HUMANLOOP_MAX_CAPTURE_BYTES", |c, v| {
        c.content.max_capture_bytes = parse(v, "expected a byte count")?;
        Ok(())
    }),
    ("HUMANLOOP_SAMPLE_RATIO", |c, v| {
        const REASON: &str = "expected a number in [0, 1]";
        let ratio: f64 = parse(v, REASON)?;
        if !(0.0..=1.0).contains(&ratio) {
            return Err(REASON);
        }
        c.sample_ratio = ratio;
        Ok(())
    }),
    ("HUMANLOOP_EXPORT_MAX_QUEUE_SIZE", |c, v| {
        c.export.max_queue_size = parse(v, "expected a count")?;
        Ok(())
    }),
    ("HUMANLOOP_EXPORT_MAX_BATCH_SIZE", |c, v| {
        c.export.max_batch_size = parse(v, "expected a count")?;
        Ok(())
    }),
    ("HUMANLOOP_EXPORT_SCHEDULE_DELAY", |c, v| {
        let ms = parse(v, "expected milliseconds")?;
        c.export.schedule_delay = Duration::from_millis(ms);
        Ok(())
    }),
    ("HUMANLOOP_EXPORT_TIMEOUT", |c, v| {
        let ms = parse(v, "expected milliseconds")?;
        c.export.export_timeout = Duration::from_millis(ms);
        Ok(())
    }),
    ("HUMANLOOP_SPOOL_DIR", |c, v| {
        c.export.spool_dir = Some(PathBuf::from(v));
        Ok(())
    }),
    ("HUMANLOOP_SPOOL_MAX_BYTES", |c, v| {
        c.export.spool_max_bytes = parse(v, "expected a byte count")?;
        Ok(())
    }),
    ("HUMANLOOP_MAX_RETRIES", |c, v| {
        let retries: u32 = parse(v, "expected a count")?;
        c.endpoint.retry.max_attempts = retries.saturating_add(1);
        Ok(())
    }),
];

impl ConfigBuilder {
    /// Start from the environment: every variable of the README's table (see there for
    /// what each sets), e.g. `HUMANLOOP_BASE_URL`, `HUMANLOOP_API_KEY`,
    /// `HUMANLOOP_PROJECT`, `HUMANLOOP_CAPTURE_CONTENT`, `HUMANLOOP_MAX_RETRIES`.
    pub fn from_env() -> Result<ConfigBuilder, ConfigError> {
        let mut b = Config::builder();
        for (name, apply) in ENV {
            let Ok(value) = std::env::var(name) else {
                continue;
            };
            let unset = if *name == "HUMANLOOP_API_KEY" {
                value.is_empty()
            } else {
                value.trim().is_empty()
            };
            if unset {
                continue;
            }
            apply(&mut b.config, &value).map_err(|reason| ConfigError::InvalidEnv {
                name,
                value: value.clone(),
                reason,
            })?;
        }
        Ok(b)
    }

    /// Turn tracing on or off; off makes every layer a pure pass-through.
    pub fn enabled(mut self, on: bool) -> Self {
        self.config.enabled = on;
        self
    }
    /// The endpoint's base URL, e.g. `http://127.0.0.1:8787/v4`. An `https` URL is
    /// verified against the platform's CA certificates; a plain-`http` one loads none (so
    /// an `http` URL that redirects to `https` fails that redirect: give the `https` one).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.endpoint.base_url = url.into();
        self
    }
    /// The endpoint's API key (`X-API-KEY`).
    pub fn api_key(mut self, key: impl Into<Arc<str>>) -> Self {
        self.config.endpoint.api_key = Some(SecretString::new(key));
        self
    }
    /// Default project name for logs.
    pub fn project(mut self, name: impl Into<String>) -> Self {
        self.config.log.project = Some(name.into());
        self
    }
    /// Default project id for logs.
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.config.log.project_id = Some(id.into());
        self
    }
    /// `source` of every log.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.config.log.source = Some(source.into());
        self
    }
    /// `environment` of every log.
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.config.log.environment = Some(env.into());
        self
    }
    /// Add a metadata entry to every log.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.config.log.metadata.insert(key.into(), value.into());
        self
    }
    /// `save` flag of every log (default true): false asks the endpoint not to store payloads.
    pub fn save(mut self, save: bool) -> Self {
        self.config.log.save = save;
        self
    }
    /// `return_inputs` of the completion calls made through
    /// [`Humanloop::client`](crate::Humanloop::client) that do not set it (default true:
    /// the endpoint's own default, so nothing is sent).
    pub fn return_inputs(mut self, on: bool) -> Self {
        self.config.return_inputs = on;
        self
    }
    /// Messages and outputs in logs (default on).
    pub fn log_content(mut self, on: bool) -> Self {
        self.config.content.log_content = on;
        self
    }
    /// Messages and outputs on spans (default off, as the GenAI conventions require).
    pub fn capture_content(mut self, on: bool) -> Self {
        self.config.content.capture_content = on;
        self
    }
    /// The GenAI conventions to follow (default [`Profile::V1_41`](SemconvProfile),
    /// what backends read today; `from_env` reads `OTEL_SEMCONV_STABILITY_OPT_IN`).
    pub fn semconv_profile(mut self, profile: SemconvProfile) -> Self {
        self.config.semconv = profile;
        self
    }
    /// Put the W3C trace context of each call's span on the outgoing request (default
    /// on; feature `otel` with an OpenTelemetry layer). The application's global
    /// OpenTelemetry propagator writes it when one is set (B3, Jaeger, baggage, …);
    /// otherwise the crate writes `traceparent` (and `tracestate`) itself. `false`
    /// injects nothing.
    pub fn trace_context(mut self, on: bool) -> Self {
        self.config.trace_context = on;
        self
    }
    /// Cap on the response bytes kept per call for decoding (default 1 MiB).
    pub fn max_capture_bytes(mut self, bytes: usize) -> Self {
        self.config.content.max_capture_bytes = bytes;
        self
    }
    /// Cap on one content attribute on a span (default 64 KiB); longer JSON is truncated
    /// so that it stays valid.
    pub fn max_content_attribute_bytes(mut self, bytes: usize) -> Self {
        self.config.content.max_content_attribute_bytes = bytes;
        self
    }
    /// Keep this fraction of sessions (decided once per session; default 1.0).
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.config.sample_ratio = ratio;
        self
    }
    /// The redaction hook, run on every content string before it is recorded anywhere.
    pub fn redact(mut self, f: impl Fn(&mut String) + Send + Sync + 'static) -> Self {
        self.config.hooks.redact = Some(Arc::new(f));
        self
    }
    /// A hook that sees (and may edit or drop) every log before it leaves the process.
    pub fn on_log(mut self, f: impl Fn(&mut LogRequest) -> bool + Send + Sync + 'static) -> Self {
        self.config.hooks.on_log = Some(Arc::new(f));
        self
    }
    /// Price for models whose name starts with `model_prefix` (overrides the built-in table).
    pub fn price(mut self, model_prefix: impl Into<String>, price: Price) -> Self {
        self.config.prices.add(model_prefix, price);
        self
    }
    /// Name the provider behind a host (`api.example.com`, or `.example.com` for a suffix).
    pub fn provider_host(
        mut self,
        host: impl Into<String>,
        provider: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.config.registry.add_host(host, provider);
        self
    }
    /// Add a codec of your own; it is tried before the built-in ones.
    pub fn codec(mut self, codec: Arc<dyn Codec>) -> Self {
        self.config.registry.add_codec(codec);
        self
    }
    /// Exporter knobs.
    pub fn export(mut self, export: ExportConfig) -> Self {
        self.config.export = export;
        self
    }
    /// Bounded queue capacity of the exporter.
    pub fn max_queue_size(mut self, n: usize) -> Self {
        self.config.export.max_queue_size = n;
        self
    }
    /// Records per export request.
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.config.export.max_batch_size = n;
        self
    }
    /// Longest a record waits before its batch is sent.
    pub fn schedule_delay(mut self, d: Duration) -> Self {
        self.config.export.schedule_delay = d;
        self
    }
    /// Durable spool directory: accepted records survive a crash.
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.export.spool_dir = Some(dir.into());
        self
    }
    /// Retry policy of the endpoint client's own calls (the exporter's is
    /// [`ExportConfig::retry`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.endpoint.retry = policy;
        self
    }
    /// Connect timeout of the endpoint client.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.endpoint.connect_timeout = d;
        self
    }
    /// Per-request timeout of the endpoint client (streams: until the head arrives).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.config.endpoint.request_timeout = d;
        self
    }

    /// Check and build.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut c = self.config;
        let base = c.endpoint.base_url.trim_end_matches('/').to_owned();
        match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
            _ => {
                return Err(ConfigError::InvalidBaseUrl(
                    redact_userinfo(&base).into_owned(),
                ))
            }
        }
        c.endpoint.base_url = base;
        if !(0.0..=1.0).contains(&c.sample_ratio) {
            return Err(ConfigError::Invalid {
                name: "sample_ratio",
                reason: "expected a number in [0, 1]",
            });
        }
        if c.export.max_queue_size == 0 || c.export.max_batch_size == 0 {
            return Err(ConfigError::Invalid {
                name: "export",
                reason: "queue and batch sizes must be at least 1",
            });
        }
        if c.endpoint.retry.max_attempts == 0 {
            c.endpoint.retry.max_attempts = 1;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The README's configuration table names exactly the variables `from_env` reads.
    #[test]
    fn the_readme_table_lists_every_variable() {
        let readme = include_str!("../README.md");
        let start = readme.find("| variable | default | meaning |").unwrap();
        let documented: BTreeSet<&str> = readme[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .flat_map(|row| row.split('|').nth(1).unwrap_or("").split('`'))
            .filter(|s| s.chars().all(|c| c.is_ascii_uppercase() || c == '_') && s.len() > 3)
            .collect();
        let read: BTreeSet<&str> = ENV.iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, read);
    }

    #[test]
    fn log_defaults_fill_only_what_is_unset() {
        let defaults = LogDefaults {
            project: Some("p".into()),
            source: Some("s".into()),
            save: false,
            ..LogDefaults::default()
        };
        let mut log = LogRequest::default();
        defaults.stamp(&mut log);
        assert_eq!(
            (log.project.as_deref(), log.source.as_deref(), log.save),
            (Some("p"), Some("s"), Some(false))
        );
        let mut own = LogRequest {
            project_id: Some("id".into()),
            save: Some(true),
            ..LogRequest::default()
        };
        defaults.stamp(&mut own);
        assert_eq!((own.project, own.save), (None, Some(true)));
    }
}
