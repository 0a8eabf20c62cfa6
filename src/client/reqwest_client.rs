//! The reqwest [`Client`] (feature `transport`); the protocol it speaks is `endpoint.rs`'s.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method};
use serde::de::DeserializeOwned;

use super::endpoint::{self, decode, to_body, Endpoint, JSON};
use super::ClientBuilder;
use super::{retry, CompletionStream};
use crate::api::{
    CompletionModelConfigRequest, CompletionResponse, CreateLogResponse, CreateSessionResponse,
    LogRequest, OneOrMany, UpdateLogRequest,
};
use crate::config::{Config, RetryPolicy};
use crate::error::Error;

/// Client of the Humanloop-style endpoint. Cheap to clone (one shared connection pool).
///
/// Build it with [`Client::builder`], [`Client::from_config`] or [`Client::from_env`].
/// `Debug` never shows the API key.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<ClientInner>,
    pub(super) retry: RetryPolicy,
}

pub(super) struct ClientInner {
    pub(super) http: reqwest::Client,
    /// Base URL and key.
    pub(super) endpoint: Endpoint,
    pub(super) request_timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field(
                "base_url",
                &crate::redact::redact_userinfo(self.inner.endpoint.base().as_str()),
            )
            .field(
                "api_key",
                &self.inner.endpoint.has_api_key().then_some("****"),
            )
            .field("request_timeout", &self.inner.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

// A client is shared across tasks; a stream can move between them.
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send<T: Send>() {}
    assert_send_sync::<Client>();
    assert_send::<CompletionStream>();
};

impl Client {
    /// A builder with the defaults of [`Config::default`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured like `config`: base URL, API key, retry policy, connect and
    /// request timeouts.
    pub fn from_config(config: &Config) -> Result<Client, Error> {
        ClientBuilder::from_config(config).build()
    }

    /// A client configured from the environment (`HUMANLOOP_BASE_URL`,
    /// `HUMANLOOP_API_KEY`, `HUMANLOOP_MAX_RETRIES`, …; see [`Config::from_env`]).
    pub fn from_env() -> Result<Client, Error> {
        Self::from_config(&Config::from_env()?)
    }

    /// The same client (same connection pool) with another retry policy; e.g.
    /// [`RetryPolicy::none`] for a caller that runs its own retry loop.
    pub fn with_retry_policy(&self, policy: RetryPolicy) -> Client {
        let mut policy = policy;
        policy.max_attempts = policy.max_attempts.max(1);
        Client {
            inner: self.inner.clone(),
            retry: policy,
        }
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.endpoint.base().as_str().trim_end_matches('/')
    }

    /// The base URL, parsed.
    pub(crate) fn base(&self) -> &url::Url {
        self.inner.endpoint.base()
    }

    /// `POST {base}/completion-model-config`: a completion with a saved model config,
    /// answered whole. A `stream: true` in `req` is dropped (use
    /// [`Client::completion_model_config_stream`] for a stream).
    ///
    /// This is the plain call. [`Humanloop::client`](crate::Humanloop::client) gives the
    /// traced one, which also files the call under the caller's session and step.
    pub async fn completion_model_config(
        &self,
        req: &CompletionModelConfigRequest,
    ) -> Result<CompletionResponse, Error> {
        let url = self.url(&["completion-model-config"]);
        let body = if req.stream == Some(true) {
            let mut whole = req.clone();
            whole.stream = None;
            to_body(&whole)?
        } else {
            to_body(req)?
        };
        self.call(Method::POST, url, Some(body), "a completion response")
            .await
    }

    /// `POST {base}/completion-model-config` with `stream: true`: the chunks as they come.
    ///
    /// Retried (per the policy) only until the answer's head arrives. The request timeout
    /// also covers only the head; the stream itself may run as long as the server sends.
    /// See [`CompletionStream`] for how a stream cut short is reported.
    pub async fn completion_model_config_stream(
        &self,
        req: &CompletionModelConfigRequest,
    ) -> Result<CompletionStream, Error> {
        let mut req = req.clone();
        req.stream = Some(true);
        let num_samples = req.num_samples.unwrap_or(1);
        let url = self.url(&["completion-model-config"]);
        let body = to_body(&req)?;
        let timeout = self.inner.request_timeout;
        retry::retry(&self.retry, || {
            let (url, body) = (url.clone(), body.clone());
            async move {
                self.tls_available()?;
                let request = self.request(Method::POST, url.clone(), Some(body), EVENT_STREAM);
                let head = async {
                    let resp = request.send().await.map_err(Error::transport)?;
                    let resp = check_status(resp).await?;
                    if !is_json(&resp) {
                        // reqwest's `Body` is an `http_body::Body`: no `stream` feature needed.
                        let body = http::Response::<reqwest::Body>::from(resp).into_body();
                        return Ok(CompletionStream::new(
                            Box::pin(http_body_util::BodyDataStream::new(body)),
                            num_samples,
                        ));
                    }
                    // A server that does not stream answers whole: accept that.
                    let status = resp.status();
                    let bytes = resp.bytes().await.map_err(Error::transport)?;
                    decode(status, &bytes, "a completion response").map(CompletionStream::whole)
                };
                match tokio::time::timeout(timeout, head).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::timeout(&url, timeout)),
                }
            }
        })
        .await
    }

    /// `POST {base}/logs` with one log: records a datapoint made elsewhere.
    pub async fn log(&self, log: &LogRequest) -> Result<CreateLogResponse, Error> {
        let url = self.url(&["logs"]);
        let body = to_body(log)?;
        let answer: OneOrMany<CreateLogResponse> = self
            .call(Method::POST, url, Some(body), "a create-log response")
            .await?;
        match answer {
            OneOrMany::One(one) => Ok(one),
            OneOrMany::Many(mut many) if many.len() == 1 => Ok(many.remove(0)),
            OneOrMany::Many(many) => Err(Error::decode(
                None,
                "one create-log response",
                format_args!("got an array of {}", many.len()),
                "",
            )),
        }
    }

    /// `POST {base}/logs` with an array body: one request for many logs, answered with one
    /// response per log, in order. An empty slice makes no request.
    ///
    /// The hierarchy rule of the endpoint applies: a log may not name a parent logged in
    /// the same batch.
    pub async fn log_batch(&self, logs: &[LogRequest]) -> Result<Vec<CreateLogResponse>, Error> {
        if logs.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.inner.endpoint.logs_url();
        let body = to_body(logs)?;
        let answer = self
            .call(Method::POST, url, Some(body), endpoint::BATCH_ANSWER)
            .await?;
        Ok(endpoint::batch_answer(answer))
    }

    /// `PATCH {base}/logs/{id}`: completes a datapoint (output, error, duration). Returns
    /// the endpoint's answer (the log) as JSON; `Null` when the body was empty.
    pub async fn update_log(
        &self,
        id: &str,
        update: &UpdateLogRequest,
    ) -> Result<serde_json::Value, Error> {
        let url = self.url(&["logs", id]);
        let body = to_body(update)?;
        self.call(Method::PATCH, url, Some(body), "a log").await
    }

    /// `PATCH {base}/logs?reference_id=REF`: completes the datapoint logged with
    /// `reference_id`. Returns the endpoint's answer as JSON; `Null` when the body was empty.
    pub async fn update_log_by_reference(
        &self,
        reference_id: &str,
        update: &UpdateLogRequest,
    ) -> Result<serde_json::Value, Error> {
        let url = self.inner.endpoint.update_url(reference_id);
        let body = to_body(update)?;
        self.call(Method::PATCH, url, Some(body), "a log").await
    }

    /// `POST {base}/sessions`: a new session id (`sesh_…`).
    pub async fn create_session(&self) -> Result<CreateSessionResponse, Error> {
        let url = self.url(&["sessions"]);
        self.call(Method::POST, url, None, "a session").await
    }

    /// `{base}/seg/seg…`, each segment percent-encoded.
    pub(super) fn url(&self, segments: &[&str]) -> url::Url {
        self.inner.endpoint.url(segments)
    }

    /// In a build without TLS, every call to an https endpoint fails with the error that
    /// names the features to enable (the exporter then fails its records, not retries them).
    fn tls_available(&self) -> Result<(), Error> {
        let tls = cfg!(any(
            feature = "rustls",
            feature = "rustls-ring",
            feature = "native-tls"
        ));
        match tls || !self.inner.endpoint.is_https() {
            true => Ok(()),
            false => Err(endpoint::no_tls(
                self.inner.endpoint.base(),
                "this build of humanloop-tracing",
            )),
        }
    }

    fn request(
        &self,
        method: Method,
        url: url::Url,
        body: Option<Bytes>,
        accept: HeaderValue,
    ) -> reqwest::RequestBuilder {
        let headers = self.inner.endpoint.headers(accept, body.is_some());
        self.inner
            .http
            .request(method, url)
            .headers(headers)
            .body(body.unwrap_or_default())
    }

    /// One whole-answer call with retries, decoded as `T`.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: url::Url,
        body: Option<Bytes>,
        expected: &'static str,
    ) -> Result<T, Error> {
        retry::retry(&self.retry, || {
            let (method, url, body) = (method.clone(), url.clone(), body.clone());
            async move {
                self.tls_available()?;
                let resp = self
                    .request(method, url, body, JSON)
                    .timeout(self.inner.request_timeout)
                    .send()
                    .await
                    .map_err(Error::transport)?;
                let resp = check_status(resp).await?;
                let status = resp.status();
                let bytes = resp.bytes().await.map_err(Error::transport)?;
                decode(status, &bytes, expected)
            }
        })
        .await
    }
}

fn is_json(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Pass a success through; turn an error status into [`Error::Api`] with its body.
async fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, Error> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = http::Response::<reqwest::Body>::from(resp).into_body();
    Err(endpoint::error_answer(status, headers, body).await)
}
