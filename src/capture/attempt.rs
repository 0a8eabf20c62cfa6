//! Attempts of one logical call repeated by a client's own retry loop (async-openai's
//! retry layer). Each attempt is an HTTP call of its own and is logged as one; the
//! adapter that sees the whole loop runs every attempt inside [`scope`], and the capture
//! links them: the log's metadata `retry_attempt` (1 for the first) and `retry_group`
//! (the same for every attempt of the call), and on the span `http.request.resend_count`
//! (from the second attempt on, as the OpenTelemetry HTTP conventions have it).

use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static ATTEMPT: Attempt;
}

/// The attempt a call belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    /// Shared by every attempt of one logical call.
    pub group: Arc<str>,
    /// 1 for the first attempt.
    pub number: u32,
}

/// The attempt the current task is making, if an adapter said so.
pub(crate) fn current() -> Option<Attempt> {
    ATTEMPT.try_with(Attempt::clone).ok()
}

/// Run `fut` as attempt `attempt`.
#[cfg_attr(not(feature = "async-openai"), allow(dead_code))]
pub(crate) fn scope<F: Future>(attempt: Attempt, fut: F) -> impl Future<Output = F::Output> {
    ATTEMPT.scope(attempt, fut)
}
