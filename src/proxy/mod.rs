//! A tracing reverse proxy, for clients that take no middleware (feature `proxy`).
//!
//! Clients that accept only a plain HTTP client (genai, ollama-rs, Anthropic client crates,
//! services in other languages) can still change a base URL. Point it at the proxy and
//! every call goes through the crate's own tower layer
//! ([`Humanloop::layer`](crate::Humanloop::layer)): the same
//! capture, GenAI spans, logs and session hierarchy as in-process.
//!
//! Upstreams are chosen by path prefix: with `openai=https://api.openai.com/v1`, a request
//! to `/openai/chat/completions` or `/openai/v1/chat/completions` goes to
//! `https://api.openai.com/v1/chat/completions` (the client may repeat the upstream's base
//! path or not). One upstream may be given without a name: it serves every path no prefix
//! matches, unchanged. A path nothing serves gets `404` with the list of prefixes.
//!
//! What the proxy guarantees:
//! * bytes, status and headers pass unchanged, except the hop-by-hop headers of RFC 9110
//!   §7.6.1 (`Connection` and the headers it names, `Keep-Alive`, `Proxy-Connection`, `TE`,
//!   `Transfer-Encoding`, `Upgrade`), `Host` (set from the upstream), `Expect` (the proxy
//!   has read the body), the `Humanloop-*` headers below (meant for the proxy), and a
//!   `Via` entry added each way (§7.6.3);
//! * responses stream frame by frame, never buffered; request bodies are read whole, up
//!   to [`ProxyConfig::body_limit`] (`413` above it), which is what lets the layer decode
//!   them;
//! * HTTP/1.1 and HTTP/2 (by ALPN) to the upstream over TLS (rustls, ring provider, the
//!   platform's verifier, passed explicitly: no process-wide provider is installed);
//! * the client's provider key passes through and is never recorded;
//!   [`ProxyConfig::upstream_key`] injects one instead, so clients can hold none;
//! * at most [`ProxyConfig::max_connections`] upstream requests at once (each holds its
//!   permit until its response body ends); a request waits up to
//!   [`ProxyConfig::queue_timeout`] for one, then gets `503`;
//! * an upstream that cannot be reached (refused, DNS, TLS failure) gives `502` with a JSON
//!   `detail` naming the upstream; a client that disconnects mid-stream drops the upstream
//!   request and the call is logged as cancelled with its partial output; the endpoint
//!   being down does not affect calls (the exporter's guarantees);
//! * no input makes it panic.
//!
//! The caller's tree crosses the hop: session and parent step come from W3C `baggage`
//! (and `traceparent`, feature `otel`) as [`hierarchy::inject`](crate::hierarchy::inject)
//! writes them, else from the headers [`SESSION_HEADER`], [`PARENT_HEADER`], and
//! [`METADATA_HEADER_PREFIX`]`NAME` (metadata `name` of the log); without either, every
//! call is its own session. The hierarchy needs
//! [`Humanloop::tracing_layer`](crate::Humanloop::tracing_layer) in the
//! subscriber, as in-process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use humanloop_tracing::proxy::{Proxy, ProxyConfig};
//! let hl = humanloop_tracing::Humanloop::from_env()?;
//! let proxy = Proxy::new(
//!     hl.layer(),
//!     ProxyConfig::new()
//!         .upstream("openai=https://api.openai.com/v1")?
//!         .upstream("anthropic=https://api.anthropic.com")?,
//! )?;
//! // Mount it in a server of your own, e.g. under /llm:
//! let app: axum::Router = axum::Router::new().nest_service("/llm", proxy.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod handle;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};

use crate::config::Secret;

pub use handle::UpstreamClient;

/// Header naming the session of a call (the endpoint's `session_reference_id`), for
/// clients that do not send W3C `baggage`.
pub const SESSION_HEADER: &str = "humanloop-session-reference-id";
/// Header naming the parent step of a call (its `reference_id`).
pub const PARENT_HEADER: &str = "humanloop-parent-reference-id";
/// Prefix of headers that become log metadata: `Humanloop-Metadata-User: 42` gives
/// metadata `user = "42"`.
pub const METADATA_HEADER_PREFIX: &str = "humanloop-metadata-";

/// Default largest request body: 32 MiB (LLM requests carry base64 images).
pub const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;
/// Default bound on concurrent upstream requests.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// A proxy configuration error: a bad upstream, or TLS setup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// An `--upstream` specification is invalid.
    #[error("invalid upstream `{spec}`: {reason}")]
    Upstream {
        /// The specification as given (a URL with credentials is refused before it is kept).
        spec: String,
        /// Why.
        reason: String,
    },
    /// No upstream was configured.
    #[error("no upstream configured (give at least one, e.g. openai=https://api.openai.com/v1)")]
    NoUpstream,
    /// The TLS client configuration could not be built.
    #[error(transparent)]
    Tls(#[from] crate::Error),
}

/// One upstream: a name (the path prefix), a base URL and maybe a key to inject.
#[derive(Clone)]
pub(crate) struct Upstream {
    /// `None`: the default upstream.
    pub(crate) name: Option<String>,
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The base path without its trailing `/` (`""` for the root).
    pub(crate) base_path: String,
    pub(crate) key: Option<Secret>,
}

impl Upstream {
    pub(crate) fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("default")
    }
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.label())
            .field("url", &format_args!("{}{}", self.origin(), self.base_path))
            .field("key", &self.key)
            .finish()
    }
}

/// What the proxy forwards where, and its bounds.
///
/// ```
/// use humanloop_tracing::proxy::ProxyConfig;
/// let config = ProxyConfig::new()
///     .upstream("openai=https://api.openai.com/v1").unwrap()
///     .upstream("http://localhost:11434").unwrap() // the default upstream
///     .upstream_key("openai", "sk-...").unwrap()
///     .body_limit(8 << 20);
/// assert_eq!(config.prefixes(), vec!["/openai".to_owned()]);
/// ```
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    pub(crate) upstreams: Vec<Upstream>,
    pub(crate) body_limit: usize,
    pub(crate) max_connections: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) queue_timeout: Duration,
    pub(crate) extra_roots_pem: Vec<Vec<u8>>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyConfig {
    /// No upstream yet; body limit [`DEFAULT_BODY_LIMIT`], [`DEFAULT_MAX_CONNECTIONS`],
    /// 10 s connect timeout, 30 s queue timeout.
    pub fn new() -> Self {
        ProxyConfig {
            upstreams: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connect_timeout: Duration::from_secs(10),
            queue_timeout: Duration::from_secs(30),
            extra_roots_pem: Vec::new(),
        }
    }

    /// Add an upstream: `NAME=URL` (served under `/NAME`), or a bare `URL`, the default
    /// upstream (at most one), which serves every path no prefix matches. `URL` is
    /// `http` or `https`, with no credentials, query or fragment. `NAME` is letters,
    /// digits, `-`, `_` and `.`.
    pub fn upstream(mut self, spec: &str) -> Result<Self, ProxyError> {
        let up = parse_upstream(spec)?;
        let clash = self.upstreams.iter().any(|u| u.name == up.name);
        if clash {
            return Err(ProxyError::Upstream {
                spec: spec.to_owned(),
                reason: match &up.name {
                    Some(n) => format!("the prefix `/{n}` is already taken"),
                    None => "only one default upstream (one without a name) is allowed".into(),
                },
            });
        }
        self.upstreams.push(up);
        Ok(self)
    }

    /// Inject `key` into every request to the upstream `name` (`default` for the default
    /// upstream), replacing the client's own: `x-api-key` for Anthropic, `x-goog-api-key`
    /// for Gemini, `api-key` for Azure OpenAI, `Authorization: Bearer` otherwise.
    pub fn upstream_key(
        mut self,
        name: &str,
        key: impl Into<Arc<str>>,
    ) -> Result<Self, ProxyError> {
        let up = self
            .upstreams
            .iter_mut()
            .find(|u| u.label() == name)
            .ok_or_else(|| ProxyError::Upstream {
                spec: name.to_owned(),
                reason: "a key was given for an upstream that is not configured".into(),
            })?;
        up.key = Some(Secret::new(key));
        Ok(self)
    }

    /// Largest request body in bytes (default [`DEFAULT_BODY_LIMIT`]); larger gets `413`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Most upstream requests at once (default [`DEFAULT_MAX_CONNECTIONS`], at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Timeout of connecting to an upstream (TCP), default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a request waits for a free upstream slot before `503`, default 30 s.
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// Also trust the CA certificate(s) in `pem` for upstreams, beside the platform's.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// The path prefixes served (`/NAME`), in the order given.
    pub fn prefixes(&self) -> Vec<String> {
        self.upstreams
            .iter()
            .filter_map(|u| u.name.as_ref().map(|n| format!("/{n}")))
            .collect()
    }
}

fn parse_upstream(spec: &str) -> Result<Upstream, ProxyError> {
    let bad = |reason: &str| ProxyError::Upstream {
        spec: spec.to_owned(),
        reason: reason.to_owned(),
    };
    let (name, url) = match spec.split_once('=') {
        Some((n, u)) if !n.contains([':', '/']) => (Some(n.trim()), u.trim()),
        _ => (None, spec.trim()),
    };
    if let Some(n) = name {
        let ok = !n.is_empty()
            && n != "default"
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(bad(
                "the name must be letters, digits, `-`, `_` or `.` (and not `default`)",
            ));
        }
    }
    let parsed = url::Url::parse(url).map_err(|e| ProxyError::Upstream {
        // The URL may hold credentials: do not repeat it.
        spec: name.unwrap_or("default").to_owned(),
        reason: format!("not a URL: {e}"),
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ProxyError::Upstream {
            spec: name.unwrap_or("default").to_owned(),
            reason: "credentials in the URL are refused; use an upstream key".into(),
        });
    }
    let scheme = match parsed.scheme() {
        "http" => Scheme::HTTP,
        "https" => Scheme::HTTPS,
        _ => return Err(bad("the scheme must be http or https")),
    };
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("the URL must have no query or fragment"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| bad("the URL has no host"))?;
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let authority: Authority = authority
        .parse()
        .map_err(|_| bad("the host is not valid"))?;
    Ok(Upstream {
        name: name.map(str::to_owned),
        scheme,
        authority,
        base_path: parsed.path().trim_end_matches('/').to_owned(),
        key: None,
    })
}

/// The proxy: build once with [`Proxy::new`], then serve [`Proxy::router`]. Cheap to
/// clone.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<handle::Shared>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("upstreams", &self.shared.upstreams)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Build the proxy: its upstream HTTP client (connection pool, TLS) wrapped in
    /// `layer`, which is [`Humanloop::layer`](crate::Humanloop::layer) (or a stack of
    /// layers with it inside). Fails without any upstream or when TLS cannot be set up
    /// (no CA certificates on the machine while an upstream is `https`).
    pub fn new<L, S, B>(layer: L, config: ProxyConfig) -> Result<Proxy, ProxyError>
    where
        L: tower_layer::Layer<UpstreamClient, Service = S>,
        S: tower_service::Service<
                http::Request<http_body_util::Full<bytes::Bytes>>,
                Response = http::Response<B>,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if config.upstreams.is_empty() {
            return Err(ProxyError::NoUpstream);
        }
        Ok(Proxy {
            shared: Arc::new(handle::Shared::new(layer, config)?),
        })
    }

    /// An axum `Router` (also a tower `Service`) answering every path: serve it, or mount
    /// it with `Router::nest_service`. Set `TCP_NODELAY` on the accepted connections
    /// (`axum::serve::ListenerExt::tap_io`), as the binary does: each streamed chunk is a
    /// small write that Nagle's algorithm would otherwise hold for the client's ACK.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handle::handle)
            .with_state(self.shared.clone())
    }

    /// The path prefixes served (`/NAME`).
    pub fn prefixes(&self) -> Vec<String> {
        self.shared.prefixes.clone()
    }

    /// Upstream requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.shared.max_connections - self.shared.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_specs() {
        let c = ProxyConfig::new()
            .upstream("openai=https://api.openai.com/v1/")
            .unwrap()
            .upstream("http://localhost:11434")
            .unwrap();
        assert_eq!(c.upstreams[0].base_path, "/v1");
        assert_eq!(c.upstreams[0].authority.as_str(), "api.openai.com");
        assert_eq!(c.upstreams[1].name, None);
        assert_eq!(c.upstreams[1].authority.as_str(), "localhost:11434");
        assert!(c.clone().upstream("http://other").is_err());
        assert!(c.clone().upstream("openai=http://other").is_err());
        assert!(ProxyConfig::new().upstream("a b=http://x").is_err());
        assert!(ProxyConfig::new().upstream("x=ftp://x").is_err());
        assert!(ProxyConfig::new().upstream("x=http://x/?q=1").is_err());
        let e = ProxyConfig::new()
            .upstream("x=https://user:sk-secret@x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("sk-secret"), "{e}");
        let c = ProxyConfig::new()
            .upstream("a=http://a")
            .unwrap()
            .upstream_key("a", "sk-k")
            .unwrap();
        assert!(!format!("{c:?}").contains("sk-k"));
        assert!(c.upstream_key("b", "k").is_err());
    }
}
