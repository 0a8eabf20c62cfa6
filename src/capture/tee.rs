//! [`TeeBody`]: the response body the caller reads, watched on the way.

use std::fmt;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};

use super::call::Call;
use super::outcome::End;

pin_project_lite::pin_project! {
    /// A response body that hands every frame to the caller unchanged, in the poll that
    /// produced it, while the capture reads it through a borrow (the decoder copies only
    /// what it needs: an unfinished SSE line, or a JSON body up to the capture cap).
    ///
    /// The call finishes exactly once: at the end of the stream (also when the inner
    /// body reports [`Body::is_end_stream`] after its last frame), on a body error, or,
    /// when the caller drops the body before the end, as `cancelled`. Bodies of
    /// requests that are not LLM calls are wrapped with nothing to watch and pass
    /// straight through.
    pub struct TeeBody<B> {
        #[pin]
        inner: B,
        call: Option<Box<Call>>,
    }
}

impl<B> TeeBody<B> {
    /// Watch `inner` for `call` (`None`: plain pass-through).
    pub(crate) fn new(inner: B, call: Option<Box<Call>>) -> Self {
        Self { inner, call }
    }

    /// The wrapped body, giving up on watching it (the call finishes as cancelled if it
    /// had not ended).
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> fmt::Debug for TeeBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeeBody")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl<B> Body for TeeBody<B>
where
    B: Body,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let result = ready!(inner.as_mut().poll_frame(cx));
        let Some(call) = this.call.as_mut() else {
            return Poll::Ready(result);
        };
        let end = match &result {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    feed(call, data);
                }
                inner.is_end_stream().then_some(End::Complete)
            }
            Some(Err(_)) => Some(End::BodyError),
            None => Some(End::Complete),
        };
        if let Some(end) = end {
            call.finish(end);
            *this.call = None;
        }
        Poll::Ready(result)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Show the bytes of `data` to the call without consuming them.
fn feed(call: &mut Call, data: &impl Buf) {
    let chunk = data.chunk();
    if chunk.len() == data.remaining() {
        call.on_data(chunk);
        return;
    }
    // A non-contiguous buffer: read its slices in place.
    let mut slices = [IoSlice::new(&[]); 64];
    let n = data.chunks_vectored(&mut slices);
    for s in &slices[..n] {
        call.on_data(s);
    }
}
