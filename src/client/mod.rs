//! The typed client of the Humanloop-style endpoint (the contract: `docs/endpoint.md`).
//!
//! [`Client`] makes completion calls with a saved model configuration (whole or streamed),
//! records logs (one or a batch), completes them later (`PATCH`), and creates sessions.
//! It is a plain `reqwest` client, never instrumented, so the crate's own layers never
//! trace it. Every request carries `X-API-KEY` and a JSON body that omits unset fields.
//! It knows neither spans nor the exporter: [`Humanloop::client`](crate::Humanloop::client)
//! wraps it in a [`TracedClient`](crate::TracedClient) whose completion calls are traced and
//! filed under the caller's session and step.
//!
//! Failures are [`Error`]s. Requests that fail with 408, 429, 5xx or a connection error are
//! retried with exponential backoff and full jitter, honouring `Retry-After`, within the
//! [`RetryPolicy`]'s attempts and time budget; a stream is retried only until its head
//! arrives, never once chunks have been handed out.
//!
//! ```
//! use humanloop_tracing::api::{CompletionModelConfigRequest, LogRequest};
//! use humanloop_tracing::Client;
//! use wiremock::matchers::{header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A stand-in endpoint on 127.0.0.1.
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/v4/completion-model-config"))
//!     .and(header("x-api-key", "hl-test"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
//!         "data": [{"id": "data_1", "index": 0, "output": "Hello!", "finish_reason": "stop"}],
//!         "provider_responses": [],
//!     })))
//!     .mount(&server)
//!     .await;
//!
//! let client = Client::builder()
//!     .base_url(format!("{}/v4", server.uri()))
//!     .api_key("hl-test")
//!     .build()?;
//! let answer = client
//!     .completion_model_config(&CompletionModelConfigRequest::new("config_123"))
//!     .await?;
//! assert_eq!(answer.data[0].output.as_deref(), Some("Hello!"));
//! # Ok(()) }
//! ```
//!
//! Streaming, with the samples put back together:
//!
//! ```no_run
//! # async fn demo(client: humanloop_tracing::Client) -> Result<(), humanloop_tracing::Error> {
//! use humanloop_tracing::api::CompletionModelConfigRequest;
//!
//! let req = CompletionModelConfigRequest::new("config_123").with_num_samples(2u32);
//! let samples = client.completion_model_config_stream(&req).await?.collect_samples().await?;
//! for s in samples {
//!     println!("#{}: {} ({:?})", s.index, s.output, s.finish_reason);
//! }
//! # Ok(()) }
//! ```

mod builder;
pub(crate) mod retry;
mod stream;
mod v4;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;

#[cfg(any(feature = "proxy", feature = "server"))]
pub(crate) use builder::tls_config;
pub use builder::ClientBuilder;
pub(crate) use stream::StreamObserver;
pub use stream::{CompletionStream, Sample, SampleCollector};

use crate::api::{
    CompletionModelConfigRequest, CompletionResponse, CreateLogResponse, CreateSessionResponse,
    LogRequest, OneOrMany, UpdateLogRequest,
};
use crate::config::{Config, RetryPolicy};
use crate::error::{ApiError, Error};

/// Client of the Humanloop-style endpoint. Cheap to clone (one shared connection pool).
///
/// Build it with [`Client::builder`], [`Client::from_config`] or [`Client::from_env`].
/// `Debug` never shows the API key.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
    retry: RetryPolicy,
}

struct ClientInner {
    http: reqwest::Client,
    /// Validated http(s) URL without a trailing slash.
    base: url::Url,
    /// The `X-API-KEY` value, marked sensitive (hyper then never logs it).
    api_key: Option<HeaderValue>,
    request_timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field(
                "base_url",
                &crate::redact::redact_userinfo(self.inner.base.as_str()),
            )
            .field("api_key", &self.inner.api_key.as_ref().map(|_| "****"))
            .field("request_timeout", &self.inner.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

// A client is shared across tasks; a stream can move between them.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send<T: Send>() {}
    assert_send_sync::<Client>();
    assert_send::<CompletionStream>();
};

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

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
        self.inner.base.as_str().trim_end_matches('/')
    }

    /// The base URL, parsed.
    pub(crate) fn base(&self) -> &url::Url {
        &self.inner.base
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
                let request = self.request(Method::POST, url.clone(), Some(body), EVENT_STREAM);
                let head = async {
                    let resp = request.send().await.map_err(Error::transport)?;
                    let resp = check_status(resp).await?;
                    if !is_json(&resp) {
                        return Ok(CompletionStream::new(
                            Box::pin(resp.bytes_stream()),
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
        let url = self.url(&["logs"]);
        let body = to_body(logs)?;
        let answer: OneOrMany<CreateLogResponse> = self
            .call(
                Method::POST,
                url,
                Some(body),
                "a list of create-log responses",
            )
            .await?;
        Ok(match answer {
            OneOrMany::Many(many) => many,
            OneOrMany::One(one) => vec![one],
        })
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
        let mut url = self.url(&["logs"]);
        url.query_pairs_mut()
            .append_pair("reference_id", reference_id);
        let body = to_body(update)?;
        self.call(Method::PATCH, url, Some(body), "a log").await
    }

    /// `POST {base}/sessions`: a new session id (`sesh_…`).
    pub async fn create_session(&self) -> Result<CreateSessionResponse, Error> {
        let url = self.url(&["sessions"]);
        self.call(Method::POST, url, None, "a session").await
    }

    /// `{base}/seg/seg…`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.inner.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(
        &self,
        method: Method,
        url: url::Url,
        body: Option<Bytes>,
        accept: HeaderValue,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .inner
            .http
            .request(method, url)
            .header(http::header::ACCEPT, accept);
        if let Some(key) = &self.inner.api_key {
            req = req.header("x-api-key", key.clone());
        }
        match body {
            Some(body) => req.header(http::header::CONTENT_TYPE, JSON).body(body),
            None => req.body(Bytes::new()),
        }
    }

    /// One whole-answer call with retries, decoded as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: url::Url,
        body: Option<Bytes>,
        expected: &'static str,
    ) -> Result<T, Error> {
        retry::retry(&self.retry, || {
            let (method, url, body) = (method.clone(), url.clone(), body.clone());
            async move {
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

fn to_body<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(Error::Encode)
}

fn decode<T: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
    expected: &'static str,
) -> Result<T, Error> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| Error::decode(Some(status), expected, e, &String::from_utf8_lossy(bytes)))
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
    // Keep at most MAX_ERROR_BODY bytes: an error page can be large, the start says enough.
    let mut resp = resp;
    let mut body = Vec::new();
    let mut note = "";
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    note = " …(truncated)";
                    break;
                }
            }
            Ok(None) => break,
            Err(_) => {
                note = " …(the rest of the body could not be read)";
                break;
            }
        }
    }
    let mut body = String::from_utf8_lossy(&body).into_owned();
    body.push_str(note);
    Err(ApiError::new(status, headers, body).into())
}

/// The most of an error answer's body that is kept.
const MAX_ERROR_BODY: usize = 64 * 1024;
