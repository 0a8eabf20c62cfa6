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

/// `url` with its userinfo (`user:password@`), if any, shown as `****@`: for `Debug` and
/// error messages, where a credential written into a base URL must not appear. Works on
/// strings that do not parse as URLs too (an invalid base URL is echoed in its error).
pub(crate) fn redact_userinfo(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => Cow::Owned(format!("{}****{}", &url[..scheme_end], &rest[at..])),
        None => Cow::Borrowed(url),
    }
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<Arc<str>>) -> Self {
        Self(s.into())
    }
    /// The secret itself: only for putting it in a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// Text redaction hook: sees every content string (message texts, outputs, tool
/// arguments and results, step inputs and outputs) before it is recorded on a span or
/// put in a log. A panic inside is contained and counted; the content is then dropped.
pub type RedactFn = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Whole-record hook: sees each log just before it leaves the process; can edit it.
/// Return `false` to drop the record. A panic inside is contained and counted.
pub type OnLogFn = Arc<dyn Fn(&mut LogRequest) -> bool + Send + Sync>;

/// Prices in dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Dollars per million input tokens.
    pub input_per_mtok: f64,
    /// Dollars per million output tokens.
    pub output_per_mtok: f64,
}

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

/// The whole configuration. Build with [`Config::builder`] or [`Config::from_env`].
#[derive(Clone)]
pub struct Config {
    pub(crate) enabled: bool,
    pub(crate) base_url: String,
    pub(crate) api_key: Option<Secret>,
    pub(crate) project: Option<String>,
    pub(crate) project_id: Option<String>,
    pub(crate) source: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) metadata: JsonMap,
    pub(crate) save: bool,
    pub(crate) return_inputs: bool,
    pub(crate) log_content: bool,
    pub(crate) capture_content: bool,
    pub(crate) trace_context: bool,
    pub(crate) max_capture_bytes: usize,
    pub(crate) max_content_attribute_bytes: usize,
    pub(crate) sample_ratio: f64,
    pub(crate) redact: Option<RedactFn>,
    pub(crate) on_log: Option<OnLogFn>,
    pub(crate) prices: Vec<(String, Price)>,
    pub(crate) registry: Registry,
    pub(crate) export: ExportConfig,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            project: None,
            project_id: None,
            source: None,
            environment: None,
            metadata: JsonMap::new(),
            save: true,
            return_inputs: true,
            log_content: true,
            capture_content: false,
            trace_context: true,
            max_capture_bytes: 1024 * 1024,
            max_content_attribute_bytes: 64 * 1024,
            sample_ratio: 1.0,
            redact: None,
            on_log: None,
            prices: Vec::new(),
            registry: Registry::builtin(),
            export: ExportConfig::default(),
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("enabled", &self.enabled)
            .field("base_url", &redact_userinfo(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "****"))
            .field("project", &self.project)
            .field("project_id", &self.project_id)
            .field("source", &self.source)
            .field("environment", &self.environment)
            .field("save", &self.save)
            .field("return_inputs", &self.return_inputs)
            .field("log_content", &self.log_content)
            .field("capture_content", &self.capture_content)
            .field("trace_context", &self.trace_context)
            .field("max_capture_bytes", &self.max_capture_bytes)
            .field("sample_ratio", &self.sample_ratio)
            .field("redact", &self.redact.is_some())
            .field("on_log", &self.on_log.is_some())
            .field("registry", &self.registry)
            .field("export", &self.export)
            .field("retry", &self.retry)
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
    /// The endpoint's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// The API key, if any.
    pub fn api_key(&self) -> Option<&Secret> {
        self.api_key.as_ref()
    }
    /// Default project name.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }
    /// Default project id.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }
    /// The `save` flag sent with every log.
    pub fn save(&self) -> bool {
        self.save
    }
    /// Whether logs carry messages and outputs.
    pub fn log_content(&self) -> bool {
        self.log_content
    }
    /// Whether spans carry messages and outputs.
    pub fn capture_content(&self) -> bool {
        self.capture_content
    }
    /// Whether LLM calls carry the W3C trace context of their span (see
    /// [`ConfigBuilder::trace_context`]).
    pub fn trace_context(&self) -> bool {
        self.trace_context
    }
    /// Cap on captured response bytes per call.
    pub fn max_capture_bytes(&self) -> usize {
        self.max_capture_bytes
    }
    /// Exporter knobs.
    pub fn export(&self) -> &ExportConfig {
        &self.export
    }
    /// Retry policy of the endpoint client.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
    /// Codecs and host mapping.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The user's price for `model`, if they set one (longest matching prefix wins).
    pub(crate) fn user_price(&self, model: &str) -> Option<Price> {
        self.prices
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, p)| *p)
    }

    /// Run the redaction hook on `text`, containing a panic. `false` means the hook
    /// panicked and the text must not be recorded (it has been cleared).
    pub(crate) fn redact_text(&self, text: &mut String) -> bool {
        let Some(hook) = &self.redact else {
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

fn env(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_bool(name: &'static str) -> Result<Option<bool>, ConfigError> {
    match env(name) {
        None => Ok(None),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Some(true)),
            "0" | "false" | "no" | "off" => Ok(Some(false)),
            _ => Err(ConfigError::InvalidEnv {
                name,
                value: v,
                reason: "expected true or false",
            }),
        },
    }
}

fn env_parse<T: std::str::FromStr>(
    name: &'static str,
    reason: &'static str,
) -> Result<Option<T>, ConfigError> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::InvalidEnv {
                name,
                value: v,
                reason,
            }),
    }
}

impl ConfigBuilder {
    /// Start from the environment:
    /// `HUMANLOOP_API_KEY`, `HUMANLOOP_BASE_URL`, `HUMANLOOP_TRACING_ENABLED`,
    /// `HUMANLOOP_PROJECT`, `HUMANLOOP_PROJECT_ID`, `HUMANLOOP_SOURCE`,
    /// `HUMANLOOP_ENVIRONMENT`, `HUMANLOOP_SAVE`, `HUMANLOOP_RETURN_INPUTS`,
    /// `HUMANLOOP_LOG_CONTENT`, `HUMANLOOP_CAPTURE_CONTENT` (or
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`), `HUMANLOOP_MAX_CAPTURE_BYTES`,
    /// `HUMANLOOP_SAMPLE_RATIO`, `HUMANLOOP_EXPORT_MAX_QUEUE_SIZE`,
    /// `HUMANLOOP_EXPORT_MAX_BATCH_SIZE`, `HUMANLOOP_EXPORT_SCHEDULE_DELAY` (ms),
    /// `HUMANLOOP_EXPORT_TIMEOUT` (ms), `HUMANLOOP_SPOOL_DIR`, `HUMANLOOP_SPOOL_MAX_BYTES`,
    /// `HUMANLOOP_MAX_RETRIES`.
    pub fn from_env() -> Result<ConfigBuilder, ConfigError> {
        let mut b = Config::builder();
        let c = &mut b.config;
        if let Some(v) = env_bool("HUMANLOOP_TRACING_ENABLED")? {
            c.enabled = v;
        }
        if let Some(v) = env("HUMANLOOP_BASE_URL") {
            c.base_url = v;
        }
        if let Ok(v) = std::env::var("HUMANLOOP_API_KEY") {
            if !v.is_empty() {
                c.api_key = Some(Secret::new(v));
            }
        }
        c.project = env("HUMANLOOP_PROJECT").or(c.project.take());
        c.project_id = env("HUMANLOOP_PROJECT_ID").or(c.project_id.take());
        c.source = env("HUMANLOOP_SOURCE").or(c.source.take());
        c.environment = env("HUMANLOOP_ENVIRONMENT").or(c.environment.take());
        if let Some(v) = env_bool("HUMANLOOP_SAVE")? {
            c.save = v;
        }
        if let Some(v) = env_bool("HUMANLOOP_RETURN_INPUTS")? {
            c.return_inputs = v;
        }
        if let Some(v) = env_bool("HUMANLOOP_LOG_CONTENT")? {
            c.log_content = v;
        }
        if let Some(v) = env_bool("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")? {
            c.capture_content = v;
        }
        if let Some(v) = env_bool("HUMANLOOP_CAPTURE_CONTENT")? {
            c.capture_content = v;
        }
        if let Some(v) = env_parse("HUMANLOOP_MAX_CAPTURE_BYTES", "expected a byte count")? {
            c.max_capture_bytes = v;
        }
        if let Some(v) = env_parse::<f64>("HUMANLOOP_SAMPLE_RATIO", "expected a number in [0, 1]")?
        {
            if !(0.0..=1.0).contains(&v) {
                return Err(ConfigError::InvalidEnv {
                    name: "HUMANLOOP_SAMPLE_RATIO",
                    value: v.to_string(),
                    reason: "expected a number in [0, 1]",
                });
            }
            c.sample_ratio = v;
        }
        let e = &mut c.export;
        if let Some(v) = env_parse("HUMANLOOP_EXPORT_MAX_QUEUE_SIZE", "expected a count")? {
            e.max_queue_size = v;
        }
        if let Some(v) = env_parse("HUMANLOOP_EXPORT_MAX_BATCH_SIZE", "expected a count")? {
            e.max_batch_size = v;
        }
        if let Some(v) = env_parse("HUMANLOOP_EXPORT_SCHEDULE_DELAY", "expected milliseconds")? {
            e.schedule_delay = Duration::from_millis(v);
        }
        if let Some(v) = env_parse("HUMANLOOP_EXPORT_TIMEOUT", "expected milliseconds")? {
            e.export_timeout = Duration::from_millis(v);
        }
        if let Some(v) = env("HUMANLOOP_SPOOL_DIR") {
            e.spool_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env_parse("HUMANLOOP_SPOOL_MAX_BYTES", "expected a byte count")? {
            e.spool_max_bytes = v;
        }
        if let Some(v) = env_parse::<u32>("HUMANLOOP_MAX_RETRIES", "expected a count")? {
            c.retry.max_attempts = v.saturating_add(1);
        }
        Ok(b)
    }

    /// Turn tracing on or off; off makes every layer a pure pass-through.
    pub fn enabled(mut self, on: bool) -> Self {
        self.config.enabled = on;
        self
    }
    /// The endpoint's base URL, e.g. `http://127.0.0.1:8787/v4`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
        self
    }
    /// The endpoint's API key (`X-API-KEY`).
    pub fn api_key(mut self, key: impl Into<Arc<str>>) -> Self {
        self.config.api_key = Some(Secret::new(key));
        self
    }
    /// Default project name for logs.
    pub fn project(mut self, name: impl Into<String>) -> Self {
        self.config.project = Some(name.into());
        self
    }
    /// Default project id for logs.
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.config.project_id = Some(id.into());
        self
    }
    /// `source` of every log.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.config.source = Some(source.into());
        self
    }
    /// `environment` of every log.
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.config.environment = Some(env.into());
        self
    }
    /// Add a metadata entry to every log.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.config.metadata.insert(key.into(), value.into());
        self
    }
    /// `save` flag of every log (default true): false asks the endpoint not to store payloads.
    pub fn save(mut self, save: bool) -> Self {
        self.config.save = save;
        self
    }
    /// Whether step inputs are echoed back (default true).
    pub fn return_inputs(mut self, on: bool) -> Self {
        self.config.return_inputs = on;
        self
    }
    /// Messages and outputs in logs (default on).
    pub fn log_content(mut self, on: bool) -> Self {
        self.config.log_content = on;
        self
    }
    /// Messages and outputs on spans (default off, as the GenAI conventions require).
    pub fn capture_content(mut self, on: bool) -> Self {
        self.config.capture_content = on;
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
        self.config.max_capture_bytes = bytes;
        self
    }
    /// Cap on one content attribute on a span (default 64 KiB); longer JSON is truncated
    /// so that it stays valid.
    pub fn max_content_attribute_bytes(mut self, bytes: usize) -> Self {
        self.config.max_content_attribute_bytes = bytes;
        self
    }
    /// Keep this fraction of sessions (decided once per session; default 1.0).
    pub fn sample_ratio(mut self, ratio: f64) -> Self {
        self.config.sample_ratio = ratio;
        self
    }
    /// The redaction hook, run on every content string before it is recorded anywhere.
    pub fn redact(mut self, f: impl Fn(&mut String) + Send + Sync + 'static) -> Self {
        self.config.redact = Some(Arc::new(f));
        self
    }
    /// A hook that sees (and may edit or drop) every log before it leaves the process.
    pub fn on_log(mut self, f: impl Fn(&mut LogRequest) -> bool + Send + Sync + 'static) -> Self {
        self.config.on_log = Some(Arc::new(f));
        self
    }
    /// Price for models whose name starts with `model_prefix` (overrides the built-in table).
    pub fn price(mut self, model_prefix: impl Into<String>, price: Price) -> Self {
        self.config.prices.push((model_prefix.into(), price));
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
    /// Retry policy of the endpoint client (and so of the exporter).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }
    /// Connect timeout of the endpoint client.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }
    /// Per-request timeout of the endpoint client (streams: until the head arrives).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.config.request_timeout = d;
        self
    }

    /// Check and build.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut c = self.config;
        let base = c.base_url.trim_end_matches('/').to_owned();
        match url::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
            _ => {
                return Err(ConfigError::InvalidBaseUrl(
                    redact_userinfo(&base).into_owned(),
                ))
            }
        }
        c.base_url = base;
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
        if c.retry.max_attempts == 0 {
            c.retry.max_attempts = 1;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_userinfo;

    #[test]
    fn userinfo_is_masked_in_shown_urls() {
        for (url, shown) in [
            ("http://u:pw@h:1/v4", "http://****@h:1/v4"),
            ("ftp://token@h/x?y=@z", "ftp://****@h/x?y=@z"),
            ("http://h/v4?user=a@b", "http://h/v4?user=a@b"),
            ("not a url u:pw@h", "not a url u:pw@h"),
            ("http://a:b@c@h", "http://****@h"),
        ] {
            assert_eq!(redact_userinfo(url), shown, "{url}");
        }
    }
}
