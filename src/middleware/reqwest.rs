//! The reqwest adapter: [`HumanloopMiddleware`].

use std::fmt;

use bytes::Bytes;
use http::Extensions;
use reqwest_middleware::{Middleware, Next, Result};

use crate::capture::{self, Call, End, Recorder, TeeBody};
use crate::provider::RequestHead;

/// The middleware [`Humanloop::middleware`](crate::Humanloop::middleware) returns.
///
/// The request body of an LLM call is read when reqwest holds it in memory
/// (`Body::as_bytes`, i.e. built from bytes, a string or `.json(..)`); a streaming
/// request body is left alone and the call traced without request details.
#[derive(Clone)]
pub struct HumanloopMiddleware {
    recorder: Recorder,
}

impl HumanloopMiddleware {
    pub(crate) fn new(recorder: Recorder) -> Self {
        Self { recorder }
    }

    async fn run(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<reqwest::Response> {
        if !self.recorder.config().enabled() {
            return next.run(req, extensions).await;
        }
        let Ok(uri) = http::Uri::try_from(req.url().as_str()) else {
            return next.run(req, extensions).await;
        };
        let head = RequestHead {
            method: req.method(),
            uri: &uri,
            headers: req.headers(),
        };
        let Some(detected) = capture::detect(&self.recorder, &head) else {
            return next.run(req, extensions).await;
        };
        let max = self.recorder.config().max_capture_bytes();
        let body = req
            .body()
            .and_then(|b| b.as_bytes())
            .filter(|b| b.len() <= max)
            .map(Bytes::copy_from_slice);
        let mut call = Call::start(&self.recorder, detected, &head, body);
        capture::inject_trace_context(call.span(), req.headers_mut());
        let span = call.span().clone();
        let result = tracing::Instrument::instrument(next.run(req, extensions), span).await;
        match result {
            Ok(response) => {
                call.on_response_head(response.status(), response.headers());
                Ok(rewrap(response, call))
            }
            Err(e) => {
                call.finish(End::Transport);
                Err(e)
            }
        }
    }
}

/// The same response, its body wrapped in a [`TeeBody`] (its URL kept).
fn rewrap(response: reqwest::Response, call: Call) -> reqwest::Response {
    use reqwest::ResponseBuilderExt;
    let url = response.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    if let Ok(with_url) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(with_url.into_parts().0.extensions);
    }
    let body = reqwest::Body::wrap(TeeBody::new(body, Some(Box::new(call))));
    reqwest::Response::from(http::Response::from_parts(parts, body))
}

impl fmt::Debug for HumanloopMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HumanloopMiddleware")
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Middleware for HumanloopMiddleware {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<reqwest::Response> {
        self.run(req, extensions, next).await
    }
}
