//! The async-openai adapter (feature `async-openai`): [`AsyncOpenAiService`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use async_openai::error::OpenAIError;
use async_openai::middleware::retry::{OpenAIRetry, OpenAIRetryLayer};
use async_openai::middleware::HttpRequestFactory;
use tower::{Layer, Service, ServiceExt};

use crate::capture::attempt::{self, Attempt};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The HTTP service of an async-openai `Client` (its `middleware` feature), tracing and
/// logging every call: get one with [`Humanloop::async_openai_service`].
///
/// ```no_run
/// # fn demo(hl: humanloop_tracing::Humanloop) {
/// use async_openai::{config::OpenAIConfig, Client};
///
/// let client = Client::with_config(OpenAIConfig::new())
///     .with_http_service(hl.async_openai_service(reqwest::Client::new()));
/// # }
/// ```
///
/// # Retries
/// `Client::with_http_service` replaces async-openai's default executor, and with it the
/// retry layer that `Client::new` has (3 retries of 429, 5xx and connection errors, with
/// backoff and `Retry-After`). This service puts that same layer back, around the traced
/// transport, so a client behaves as before; [`without_retry`](Self::without_retry) or
/// [`max_retries`](Self::max_retries) change it.
///
/// Each attempt is an HTTP call of its own, so each is logged and has its span (a 429 and
/// its `Retry-After` are facts worth keeping), and the attempts of one call are linked:
/// their logs carry the metadata `retry_attempt` (1, 2, …) and the same `retry_group`,
/// and from the second attempt on the span has `http.request.resend_count` (feature `otel`).
#[derive(Clone)]
pub struct AsyncOpenAiService {
    http: reqwest_middleware::ClientWithMiddleware,
    retry: Option<OpenAIRetryLayer>,
}

impl std::fmt::Debug for AsyncOpenAiService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncOpenAiService")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl AsyncOpenAiService {
    /// Send each call once: no retry layer.
    pub fn without_retry(mut self) -> Self {
        self.retry = None;
        self
    }

    /// Retry at most `n` times (async-openai's default is 3).
    pub fn max_retries(mut self, n: usize) -> Self {
        self.retry = Some(OpenAIRetryLayer::new(n));
        self
    }
}

impl Service<HttpRequestFactory> for AsyncOpenAiService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let attempts = Attempts {
            http: self.http.clone(),
            group: Arc::from(uuid::Uuid::new_v4().to_string()),
            next: Arc::new(AtomicU32::new(1)),
        };
        match &self.retry {
            // One retry loop per call, so the attempts of this call share one counter.
            Some(layer) => {
                let svc: OpenAIRetry<Attempts> = layer.layer(attempts);
                Box::pin(svc.oneshot(request))
            }
            None => Box::pin(attempts.send(request, None)),
        }
    }
}

/// The traced transport under the retry layer; counts the attempts of one call.
#[derive(Clone)]
struct Attempts {
    http: reqwest_middleware::ClientWithMiddleware,
    group: Arc<str>,
    next: Arc<AtomicU32>,
}

impl Attempts {
    async fn send(
        self,
        request: HttpRequestFactory,
        attempt: Option<Attempt>,
    ) -> Result<reqwest::Response, OpenAIError> {
        let request = request.build().await?;
        let sent = self.http.execute(request);
        let result = match attempt {
            Some(a) => attempt::scope(a, sent).await,
            None => sent.await,
        };
        result.map_err(|e| match e {
            reqwest_middleware::Error::Reqwest(e) => OpenAIError::Reqwest(e),
            reqwest_middleware::Error::Middleware(e) => OpenAIError::Boxed(e.into()),
        })
    }
}

impl Service<HttpRequestFactory> for Attempts {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let attempt = Attempt {
            group: self.group.clone(),
            number: self.next.fetch_add(1, Ordering::Relaxed),
        };
        Box::pin(self.clone().send(request, Some(attempt)))
    }
}

impl AsyncOpenAiService {
    /// The service over `http` with `middleware`, under async-openai's default retry layer.
    pub(crate) fn new(middleware: super::HumanloopMiddleware, http: reqwest::Client) -> Self {
        AsyncOpenAiService {
            http: reqwest_middleware::ClientBuilder::new(http)
                .with(middleware)
                .build(),
            retry: Some(OpenAIRetryLayer::default()),
        }
    }
}
