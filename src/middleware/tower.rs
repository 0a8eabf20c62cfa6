//! The tower adapter: [`HumanloopLayer`] → [`HumanloopService`] → [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::Body;
use tower_service::Service;

use crate::capture::{self, Call, End, Recorder, TeeBody};
use crate::provider::RequestHead;

/// The layer [`Humanloop::layer`](crate::Humanloop::layer) returns.
#[derive(Clone)]
pub struct HumanloopLayer {
    recorder: Recorder,
}

impl HumanloopLayer {
    pub(crate) fn new(recorder: Recorder) -> Self {
        Self { recorder }
    }
}

impl fmt::Debug for HumanloopLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HumanloopLayer").finish_non_exhaustive()
    }
}

impl<S> tower_layer::Layer<S> for HumanloopLayer {
    type Service = HumanloopService<S>;

    fn layer(&self, inner: S) -> HumanloopService<S> {
        HumanloopService {
            inner,
            recorder: self.recorder.clone(),
        }
    }
}

/// A service that traces and logs the LLM calls that go through it.
///
/// Works over any `Service<http::Request<B>, Response = http::Response<ResBody>>` whose
/// request body can be rebuilt from bytes (`B: From<Bytes>`, as `Full<Bytes>`, reqwest's
/// and axum's bodies are). The request body of an LLM call is read for its details only
/// when it reports an exact size no larger than
/// [`Config::max_capture_bytes`](crate::Config::max_capture_bytes) and yields its bytes
/// without waiting (every in-memory body does); it is then rebuilt with
/// `B::from(bytes)`. Otherwise it is left alone and the call is traced without request
/// details (no model, no messages). The response body becomes a [`TeeBody`].
#[derive(Clone)]
pub struct HumanloopService<S> {
    inner: S,
    recorder: Recorder,
}

impl<S: fmt::Debug> fmt::Debug for HumanloopService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HumanloopService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Service<http::Request<B>> for HumanloopService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    B: Body + From<Bytes> + Unpin,
    ResBody: Body,
{
    type Response = http::Response<TeeBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let head = RequestHead {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
        };
        let Some(detected) = capture::detect(&self.recorder, &head) else {
            return ResponseFuture::new(self.inner.call(req), None);
        };
        let max = self.recorder.config().max_capture_bytes();
        let body = capture::read_ready_body(req.body_mut(), max);
        let head = RequestHead {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
        };
        let call = Call::start(&self.recorder, detected, &head, body);
        capture::inject_trace_context(self.recorder.config(), call.span(), req.headers_mut());
        let future = call.span().in_scope(|| self.inner.call(req));
        ResponseFuture::new(future, Some(Box::new(call)))
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`HumanloopService`]: the inner future, run inside the
    /// call's span. Dropped before the response head arrived, it finishes the call as
    /// cancelled.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<Box<Call>>,
    }
}

impl<F> ResponseFuture<F> {
    fn new(inner: F, call: Option<Box<Call>>) -> Self {
        Self { inner, call }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<TeeBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.call.as_ref().map(|c| c.span().enter());
            ready!(this.inner.poll(cx))
        };
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                if let Some(call) = call.as_mut() {
                    call.on_response_head(parts.status, &parts.headers);
                }
                Ok(http::Response::from_parts(parts, TeeBody::new(body, call)))
            }
            Err(e) => {
                if let Some(call) = call.as_mut() {
                    call.finish(End::Transport);
                }
                Err(e)
            }
        })
    }
}
