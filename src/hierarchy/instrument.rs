//! Future adaptors whose span is made at the future's first poll: [`HierarchyExt`].
//!
//! `fut.instrument(step("answer")).instrument(session(key))` reads naturally but builds
//! the step's span first, when no session exists yet: the step and its LLM calls then
//! land in the trace's automatic session, not in `key`. The adaptors here make their
//! span when the future is first polled, inside whatever the outer adaptors have
//! entered by then, so that `fut.in_step("answer").in_session(key)` nests as it reads.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tracing::Span;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::layer::SpanData;

/// Run a future in a session or a step whose span is made at its first poll, as a child
/// of the span current then. Implemented for every future.
///
/// ```
/// use humanloop_tracing::hierarchy::HierarchyExt;
/// # async fn answer() -> &'static str { "42" }
/// # async fn demo() {
/// // The session is made first (the outer adaptor is polled first), then the step in it.
/// let out = answer().in_step("answer").in_session("conversation-42").await;
/// # }
/// ```
///
/// The span's parent is the span current at first poll; when none is (a future made
/// inside `span.in_scope(..)` and awaited outside it, a task given to `tokio::spawn`), it
/// is the span that was current when the adaptor was made. Any span works the same way
/// with [`in_span_with`](HierarchyExt::in_span_with).
pub trait HierarchyExt: Future + Sized {
    /// Run in the step `name` ([`step`](crate::step)), made at first poll.
    fn in_step(self, name: impl Into<String>) -> InSpan<Self> {
        let name = name.into();
        self.in_span_with(move || crate::step(name))
    }

    /// Run in the session `key` ([`session`](crate::session)), made at first poll.
    fn in_session(self, key: impl Into<String>) -> InSpan<Self> {
        let key = key.into();
        self.in_span_with(move || crate::session(key))
    }

    /// Run in the span `make()` returns, called at first poll.
    fn in_span_with<M>(self, make: M) -> InSpan<Self>
    where
        M: FnOnce() -> Span + Send + 'static,
    {
        InSpan {
            inner: self,
            make: Some(Box::new(make)),
            origin: Span::current(),
            span: None,
        }
    }
}

impl<F: Future> HierarchyExt for F {}

pin_project_lite::pin_project! {
    /// A future running in a span made at its first poll ([`HierarchyExt`]).
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<F> {
        #[pin]
        inner: F,
        make: Option<Box<dyn FnOnce() -> Span + Send>>,
        // The span current when the adaptor was made: the parent when nothing is current
        // at first poll (a future built in `in_scope` and awaited outside, a spawned task).
        origin: Span,
        span: Option<Span>,
    }
}

impl<F> std::fmt::Debug for InSpan<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InSpan")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F> InSpan<F> {
    /// The span, once the future has been polled.
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let span = match this.make.take() {
            Some(make) => {
                let origin = std::mem::replace(this.origin, Span::none());
                let span = if Span::current().is_none() && !origin.is_none() {
                    origin.in_scope(make)
                } else {
                    make()
                };
                this.span.insert(span)
            }
            None => this.span.get_or_insert_with(Span::none),
        };
        let _entered = span.enter();
        this.inner.poll(cx)
    }
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// The step `span` was just made: warn once per process when no session encloses it (its
/// logs then go to the trace's automatic session), naming the likely cause and the fix.
/// Called from [`step`](crate::step), outside the subscriber's callbacks (an event
/// emitted inside one is dropped).
pub(crate) fn warn_if_outside_session(span: &Span) {
    if WARNED.load(Ordering::Relaxed) {
        return;
    }
    let outside = span
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let this = registry.span(id)?;
            Some(!in_session(this.parent()))
        })
        .flatten()
        .unwrap_or(false);
    if outside && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "humanloop_tracing",
            "a step began outside any session: its logs go to the trace's automatic session. \
             `fut.instrument(step(..)).instrument(session(..))` makes the step before the session; \
             write `fut.in_step(..).in_session(..)` (humanloop_tracing::hierarchy::HierarchyExt) \
             or enter the session first (warned once)"
        );
    }
}

fn in_session<'a, R: LookupSpan<'a>>(parent: Option<SpanRef<'a, R>>) -> bool {
    parent.is_some_and(|p| {
        p.scope().any(|s| {
            s.extensions()
                .get::<SpanData>()
                .is_some_and(|d| d.session.is_some())
        })
    })
}
