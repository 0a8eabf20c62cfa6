//! [`ClientBuilder`]: base URL, key, timeouts, retry policy; and the TLS setup.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Client, ClientInner};
use crate::config::{Config, EndpointConfig, RetryPolicy};
use crate::error::Error;
use crate::redact::{redact_userinfo, Secret};

/// Builder of [`Client`]. Start with [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use humanloop_tracing::{config::RetryPolicy, Client};
///
/// let client = Client::builder()
///     .base_url("http://127.0.0.1:8787/v4")
///     .api_key("hl-local")
///     .request_timeout(Duration::from_secs(30))
///     .retry(RetryPolicy::none())
///     .build()
///     .unwrap();
/// assert!(!format!("{client:?}").contains("hl-local"));
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    endpoint: EndpointConfig,
    extra_roots_pem: Vec<Vec<u8>>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &redact_userinfo(&self.endpoint.base_url))
            .field("api_key", &self.endpoint.api_key.as_ref().map(|_| "****"))
            .field("connect_timeout", &self.endpoint.connect_timeout)
            .field("request_timeout", &self.endpoint.request_timeout)
            .field("retry", &self.endpoint.retry)
            .field("extra_roots", &self.extra_roots_pem.len())
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::from_endpoint(&EndpointConfig::default())
    }
}

impl ClientBuilder {
    /// Everything the client needs from `config`: its [endpoint part](Config::endpoint).
    pub fn from_config(config: &Config) -> Self {
        Self::from_endpoint(config.endpoint())
    }

    /// A builder set up like `endpoint`.
    pub fn from_endpoint(endpoint: &EndpointConfig) -> Self {
        Self {
            endpoint: endpoint.clone(),
            extra_roots_pem: Vec::new(),
        }
    }

    /// The endpoint's base URL, e.g. `http://127.0.0.1:8787/v4` (default
    /// [`DEFAULT_BASE_URL`](crate::config::DEFAULT_BASE_URL)). Paths such as `/logs` are appended to it.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint.base_url = url.into();
        self
    }

    /// The API key, sent as `X-API-KEY` on every request (surrounding whitespace, such as
    /// the newline of a key read from a file, is dropped).
    pub fn api_key(mut self, key: impl Into<Arc<str>>) -> Self {
        self.endpoint.api_key = Some(Secret::new(key));
        self
    }

    /// The API key as a [`Secret`] (e.g. from [`Config::api_key`]).
    pub fn api_key_secret(mut self, key: Option<Secret>) -> Self {
        self.endpoint.api_key = key;
        self
    }

    /// Longest wait for a connection (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.endpoint.connect_timeout = d;
        self
    }

    /// Longest wait for a whole answer; for a stream, for its head (default 60 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.endpoint.request_timeout = d;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]; [`RetryPolicy::none`] turns
    /// retries off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.endpoint.retry = policy;
        self
    }

    /// Also trust the CA certificate(s) in `pem` (PEM text), on top of the platform's
    /// roots: for a self-hosted endpoint behind a private CA. Checked by
    /// [`build`](Self::build).
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// Check the settings and build the client.
    pub fn build(self) -> Result<Client, Error> {
        let endpoint = self.endpoint;
        let checked = super::endpoint::Endpoint::new(
            &endpoint.base_url,
            endpoint.api_key.as_ref().map(|k| k.expose()),
        )?;
        let http = tls_setup(
            reqwest::Client::builder(),
            checked.is_https(),
            &self.extra_roots_pem,
        )?
        .connect_timeout(endpoint.connect_timeout)
        .user_agent(super::endpoint::AGENT)
        .build()
        .map_err(|e| Error::Setup {
            message: "reqwest could not build its client".to_owned(),
            source: Some(Box::new(e)),
        })?;
        let mut retry = endpoint.retry;
        retry.max_attempts = retry.max_attempts.max(1);
        Ok(Client {
            inner: Arc::new(ClientInner {
                http,
                endpoint: checked,
                request_timeout: endpoint.request_timeout,
            }),
            retry,
        })
    }
}

/// The PEM text's certificates (DER); an error for bad PEM or PEM without certificates.
#[cfg_attr(
    not(any(feature = "rustls-ring", feature = "rustls", feature = "native-tls")),
    allow(dead_code)
)]
fn pem_roots(extra_roots_pem: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    let mut extra_roots = Vec::new();
    for pem in extra_roots_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Setup {
                message: format!("a root certificate is not valid PEM: {e}"),
                source: None,
            })?;
            extra_roots.push(cert.to_vec());
        }
    }
    if extra_roots_pem.iter().any(|p| !p.is_empty()) && extra_roots.is_empty() {
        return Err(Error::Setup {
            message: "the root certificate PEM holds no CERTIFICATE section".to_owned(),
            source: None,
        });
    }
    Ok(extra_roots)
}

/// What a client's TLS must do, which decides whether the platform's certificates are
/// loaded (some 40 ms of CPU): not for a client that never speaks TLS.
#[cfg(any(
    feature = "rustls-ring",
    feature = "rustls",
    feature = "native-tls",
    feature = "proxy",
    feature = "server"
))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsUse {
    /// https is spoken: the platform's verifier is required.
    Required,
    /// https may be spoken: the platform's verifier if the machine has one, else no roots.
    Optional,
    /// Only plain http is spoken: no roots are loaded.
    Unused,
}

#[cfg(any(
    feature = "rustls-ring",
    feature = "rustls",
    feature = "native-tls",
    feature = "proxy",
    feature = "server"
))]
impl TlsUse {
    /// For a client of `https` (or plain-http) servers, given the extra roots it trusts:
    /// a plain-http client with extra roots was given them for a reason, so they load.
    pub(crate) fn of(https: bool, extra_roots_pem: &[Vec<u8>]) -> TlsUse {
        if https {
            TlsUse::Required
        } else if extra_roots_pem.iter().all(|p| p.is_empty()) {
            TlsUse::Unused
        } else {
            TlsUse::Optional
        }
    }
}

/// Feature `rustls-ring`: rustls with the ring provider and the platform's verifier, passed
/// to reqwest directly, so that library code never installs a process-wide crypto provider.
#[cfg(feature = "rustls-ring")]
fn tls_setup(
    http: reqwest::ClientBuilder,
    https: bool,
    extra_roots_pem: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, Error> {
    let mut config = tls_config(TlsUse::of(https, extra_roots_pem), extra_roots_pem)?;
    // The endpoint client speaks HTTP/1.1: this crate turns on no `http2` in the
    // application's reqwest, so it must not offer h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(http.tls_backend_preconfigured(config))
}

/// Features `rustls` / `native-tls`: reqwest's own TLS backend and crypto provider (the
/// ones the application's reqwest uses too), the platform's roots plus the extra ones.
#[cfg(all(
    not(feature = "rustls-ring"),
    any(feature = "rustls", feature = "native-tls")
))]
fn tls_setup(
    builder: reqwest::ClientBuilder,
    https: bool,
    extra_roots_pem: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, Error> {
    if TlsUse::of(https, extra_roots_pem) == TlsUse::Unused {
        return Ok(builder.tls_certs_only(Vec::new()));
    }
    let mut certs = Vec::new();
    for der in pem_roots(extra_roots_pem)? {
        certs.push(
            reqwest::Certificate::from_der(&der).map_err(|e| Error::Setup {
                message: "a root certificate was refused by the TLS backend".to_owned(),
                source: Some(Box::new(e)),
            })?,
        );
    }
    Ok(builder.tls_certs_merge(certs))
}

/// Feature `transport` without a TLS feature: plain HTTP only (a local endpoint). An https
/// base URL is accepted, and every call to it fails with the error naming the TLS features
/// (so that `Humanloop::new` with the default, hosted URL still starts: spans need no
/// endpoint); extra roots are refused here, they can only be a mistake.
#[cfg(not(any(feature = "rustls-ring", feature = "rustls", feature = "native-tls")))]
fn tls_setup(
    builder: reqwest::ClientBuilder,
    _https: bool,
    extra_roots_pem: &[Vec<u8>],
) -> Result<reqwest::ClientBuilder, Error> {
    if extra_roots_pem.iter().any(|p| !p.is_empty()) {
        return Err(Error::Setup {
            message: "this build has no TLS, so root certificates have no use: enable the \
                      `rustls`, `rustls-ring` or `native-tls` feature of humanloop-tracing"
                .to_owned(),
            source: None,
        });
    }
    Ok(builder)
}

/// rustls with the ring provider and the platform's verifier plus `extra_roots_pem`, for
/// the endpoint client (`rustls-ring`), the proxy's upstreams and the server's providers:
/// handed to the connector, never installed process-wide. Without CA certificates on the
/// machine a client that may not need them ([`TlsUse::Optional`]) still gets a config
/// (with no roots); one that never speaks TLS ([`TlsUse::Unused`]) loads none.
#[cfg(any(feature = "rustls-ring", feature = "proxy", feature = "server"))]
pub(crate) fn tls_config(
    tls: TlsUse,
    extra_roots_pem: &[Vec<u8>],
) -> Result<rustls::ClientConfig, Error> {
    let extra_roots = pem_roots(extra_roots_pem)?
        .into_iter()
        .map(rustls::pki_types::CertificateDer::from)
        .collect::<Vec<_>>();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = |message: &str, e: rustls::Error| Error::Setup {
        message: message.to_owned(),
        source: Some(Box::new(e)),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup("no TLS protocol version is available", e))?;
    let verifier = if tls == TlsUse::Unused {
        let mut config = builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        return Ok(config);
    } else if extra_roots.is_empty() {
        rustls_platform_verifier::Verifier::new(provider)
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider)
    };
    let mut config = match verifier {
        Ok(verifier) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
        // A client that may not speak https must not need CA certificates on the machine.
        Err(e) if tls == TlsUse::Optional => {
            tracing::warn!(error = %e, "humanloop-tracing: no platform TLS verifier; https connections will fail");
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
        Err(e) => {
            return Err(setup(
                "the platform's TLS certificate verifier is unavailable (are CA certificates installed?)",
                e,
            ))
        }
    };
    // reqwest leaves ALPN to a preconfigured backend; offer what it would.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
