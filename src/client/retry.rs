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

/// What a retry loop does after a failed attempt.
pub(crate) enum Verdict {
    /// Try again after the policy's backoff, or after `after` when the other side asked.
    Retry { after: Option<Duration> },
    /// Give up: the error is returned.
    Stop,
}

/// The one retry loop (the endpoint client and the exporter both use it): run `op` until it
/// succeeds, `classify` says an error is final, or the policy's budget (attempts, elapsed
/// time) is spent; the last error is returned. `on_retry` sees each error that is retried
/// with the wait before the next attempt (the exporter counts and reports them there);
/// `wait` waits (the exporter's may end early, to probe at once for a flush).
pub(crate) async fn retry_with<T, E, F, Fut, W, WFut>(
    policy: &RetryPolicy,
    mut op: F,
    classify: impl Fn(&E) -> Verdict,
    mut on_retry: impl FnMut(&E, Duration),
    mut wait: W,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    W: FnMut(Duration) -> WFut,
    WFut: Future<Output = ()>,
{
    // tokio's clock, so paused-time tests see the waits.
    let start = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        let err = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let delay = match classify(&err) {
            Verdict::Stop => return Err(err),
            Verdict::Retry { after: Some(after) } => after.min(policy.max_backoff),
            Verdict::Retry { after: None } => policy.backoff(attempt),
        };
        if !policy.allows_retry(attempt, start.elapsed(), delay) {
            return Err(err);
        }
        on_retry(&err, delay);
        wait(delay).await;
    }
}

/// The reqwest client's loop (feature `transport`): retryable errors only (408, 429, 5xx, connection errors), honouring
/// `Retry-After`.
#[cfg(feature = "transport")]
pub(crate) async fn retry<T, F, Fut>(policy: &RetryPolicy, op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    retry_with(
        policy,
        op,
        |e: &Error| match e.is_retryable() {
            true => Verdict::Retry {
                after: e.retry_after(),
            },
            false => Verdict::Stop,
        },
        |_, _| {},
        tokio::time::sleep,
    )
    .await
}

impl RetryPolicy {
    /// The exporter's default: never give up on an outage (records are bounded by the
    /// queue and the spool, not by time), probing with exponential backoff from 500 ms up
    /// to 30 s between attempts (the OpenTelemetry Collector's ceiling), full jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use humanloop_tracing::config::RetryPolicy;
    ///
    /// let p = RetryPolicy::until_delivered();
    /// assert!(p.allows_retry(1_000_000, Duration::from_secs(7 * 24 * 3600), p.max_backoff));
    /// assert_eq!(p.max_backoff, Duration::from_secs(30));
    /// ```
    pub fn until_delivered() -> Self {
        Self {
            max_attempts: u32::MAX,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::MAX,
        }
    }
}
