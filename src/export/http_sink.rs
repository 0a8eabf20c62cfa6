//! The endpoint as a [`LogSink`] over plain HTTP, with hyper-util's client: every build has
//! it, so that a build without reqwest (`default-features = false, features = ["tower"]`)
//! still delivers its logs to a local endpoint. It speaks the protocol of `client/endpoint.rs`
//! (routes, headers, bodies, error answers), as the reqwest client does, and classifies
//! failures with the same rule as [`EndpointSink`](super::EndpointSink).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;

use crate::api::{CreateLogResponse, LogRequest, OneOrMany, UpdateLogRequest};
use crate::client::endpoint::{self, Endpoint, JSON};
use crate::config::Config;
use crate::error::{Error, TransportKind};

use super::sink::{classify, LogSink, SinkError};

/// The Humanloop-style endpoint as a sink, over plain HTTP/1.1 (hyper-util): what
/// [`Humanloop`](crate::Humanloop) exports to in a build without the `transport` feature,
/// e.g. `default-features = false, features = ["tower"]`, which pulls neither reqwest nor any
/// TLS crate. One attempt per call (the exporter retries); failures are classified as
/// [`EndpointSink`](super::EndpointSink)'s are.
///
/// It has no TLS: for an `https://` endpoint every record fails (counted in
/// [`ExportStats::failed`](super::ExportStats::failed), reported by `flush` and `shutdown`)
/// with an error that names the features adding HTTPS (`rustls`, `rustls-ring`,
/// `native-tls`, which bring reqwest and [`EndpointSink`](super::EndpointSink)).
///
/// ```
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use humanloop_tracing::export::{HttpSink, LogExporter};
/// use humanloop_tracing::{Config, Humanloop};
///
/// let config = Config::builder().base_url("http://127.0.0.1:8787/v4").build()?;
/// let sink = HttpSink::from_config(&config)?;
/// let hl = Humanloop::with_exporter(config, LogExporter::builder().sink(sink))?;
/// # hl.shutdown_blocking(std::time::Duration::from_secs(1))?;
/// # Ok(()) }
/// # demo().unwrap();
/// ```
#[derive(Clone)]
pub struct HttpSink {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
    request_timeout: Duration,
}

impl fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("endpoint", &self.inner.endpoint)
            .field("request_timeout", &self.inner.request_timeout)
            .finish()
    }
}

impl HttpSink {
    /// A sink for `config`'s endpoint (base URL, key, connect and request timeouts; its
    /// retry policy is the exporter's business). An invalid base URL or key is an error; an
    /// https URL is accepted, and its records fail when they are sent.
    ///
    /// No runtime is needed to build it: its connections live on the runtime that runs the
    /// exporter's worker.
    pub fn from_config(config: &Config) -> Result<HttpSink, Error> {
        let settings = config.endpoint();
        let endpoint = Endpoint::new(
            &settings.base_url,
            settings.api_key.as_ref().map(|k| k.expose()),
        )?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            // Idle connections are closed after the pool's timeout (90 s).
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(HttpSink {
            inner: Arc::new(Inner {
                endpoint,
                http,
                request_timeout: settings.request_timeout,
            }),
        })
    }

    /// One request with a JSON body, its answer decoded as `T`: the same steps as the
    /// reqwest client's, over hyper-util.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: url::Url,
        body: Bytes,
        expected: &'static str,
    ) -> Result<T, Error> {
        let inner = &*self.inner;
        if inner.endpoint.is_https() {
            return Err(endpoint::no_tls(
                inner.endpoint.base(),
                "the plain-HTTP HttpSink (the exporter's transport in a build without the \
                 `transport` feature)",
            ));
        }
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = url.as_str().parse().map_err(|e| Error::Setup {
            message: "the endpoint URL is not a valid HTTP URI".to_owned(),
            source: Some(Box::new(e)),
        })?;
        *request.headers_mut() = inner.endpoint.headers(JSON, true);
        let answer = async {
            let resp = inner.http.request(request).await.map_err(|e| {
                let kind = match e.is_connect() {
                    true => TransportKind::Connect,
                    false => TransportKind::Request,
                };
                Error::transport_kind(kind, Some(&url), Box::new(e))
            })?;
            let (head, body) = resp.into_parts();
            if !head.status.is_success() {
                return Err(endpoint::error_answer(head.status, head.headers, body).await);
            }
            let bytes = body
                .collect()
                .await
                .map_err(|e| Error::transport_kind(TransportKind::Body, Some(&url), Box::new(e)))?
                .to_bytes();
            endpoint::decode(head.status, &bytes, expected)
        };
        match tokio::time::timeout(inner.request_timeout, answer).await {
            Ok(answer) => answer,
            Err(_) => Err(Error::timeout(&url, inner.request_timeout)),
        }
    }
}

impl LogSink for HttpSink {
    async fn create(&self, logs: &[LogRequest]) -> Result<(), SinkError> {
        if logs.is_empty() {
            return Ok(());
        }
        let sent = async {
            let body = endpoint::to_body(logs)?;
            let url = self.inner.endpoint.logs_url();
            let answer: OneOrMany<CreateLogResponse> = self
                .send(Method::POST, url, body, endpoint::BATCH_ANSWER)
                .await?;
            Ok::<_, Error>(endpoint::batch_answer(answer))
        };
        sent.await.map(drop).map_err(|e| classify(&e, logs.len()))
    }

    async fn update(&self, reference_id: &str, update: &UpdateLogRequest) -> Result<(), SinkError> {
        let sent = async {
            let body = endpoint::to_body(update)?;
            let url = self.inner.endpoint.update_url(reference_id);
            self.send::<serde_json::Value>(Method::PATCH, url, body, "a log")
                .await
        };
        sent.await.map(drop).map_err(|e| classify(&e, 1))
    }
}

// The sink moves onto the exporter's thread.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HttpSink>();
};
