//! Retries: which errors, how long to wait, when to stop.
//!
//! A small loop rather than a retry crate because the wait depends on the error
//! (`Retry-After` wins over the computed backoff) and the budget is both attempts and time.

use std::future::Future;
use std::time::Duration;

use crate::config::RetryPolicy;
use crate::error::Error;

impl RetryPolicy {
    /// The computed wait before the next attempt once `attempt` attempts have failed
    /// (`1` after the first failure): exponential (`initial_backoff · 2^(attempt-1)`),
    /// capped by `max_backoff`, with full jitter (uniform in `[0, cap]`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use humanloop_tracing::config::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default();
    /// for attempt in 1..20 {
    ///     assert!(policy.backoff(attempt) <= policy.max_backoff);
    /// }
    /// assert!(policy.backoff(1) <= policy.initial_backoff);
    /// ```
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let cap = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }

    /// The wait before retrying after `error` ended attempt number `attempt`: the
    /// endpoint's `Retry-After` when it sent one (capped by `max_backoff`), else
    /// [`RetryPolicy::backoff`].
    pub fn delay_for(&self, attempt: u32, error: &Error) -> Duration {
        match error.retry_after() {
            Some(after) => after.min(self.max_backoff),
            None => self.backoff(attempt),
        }
    }

    /// Whether another attempt is allowed after `attempt` attempts failed, `elapsed` has
    /// passed since the first one began, and the next would start after `delay`.
    pub fn allows_retry(&self, attempt: u32, elapsed: Duration, delay: Duration) -> bool {
        attempt < self.max_attempts && elapsed.saturating_add(delay) <= self.max_elapsed
    }
}

/// Run `op` until it succeeds, fails with an error that is not retryable, or the policy's
/// budget (attempts, elapsed time) is spent; the last error is returned.
pub(crate) async fn retry<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    // tokio's clock, so paused-time tests see the waits.
    let start = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let err = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.is_retryable() {
            return Err(err);
        }
        let delay = policy.delay_for(attempt, &err);
        if !policy.allows_retry(attempt, start.elapsed(), delay) {
            return Err(err);
        }
        tokio::time::sleep(delay).await;
    }
}
