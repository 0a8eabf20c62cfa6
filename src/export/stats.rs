//! The exporter's counters: plain atomics, readable from any thread without a lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::ExportStats;

/// Shared counters. `queued` is the number of records accepted and not yet resolved
/// (sent, failed, or given up at shutdown); it is what bounds the queue.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) retried: AtomicU64,
    /// Dropped, by cause (their sum is `ExportStats::dropped`).
    queue_full: AtomicU64,
    closed: AtomicU64,
    spool_full: AtomicU64,
    abandoned: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) spooled: AtomicU64,
    /// Set once the first overflow has been warned about.
    overflow_warned: AtomicBool,
    closed_warned: AtomicBool,
}

/// The loss counters at one moment, to report what changed since the last report.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Losses {
    pub(crate) queue_full: u64,
    pub(crate) closed: u64,
    pub(crate) spool_full: u64,
    pub(crate) abandoned: u64,
    pub(crate) failed: u64,
}

impl Losses {
    pub(crate) fn since(&self, base: &Losses) -> Losses {
        Losses {
            queue_full: self.queue_full - base.queue_full,
            closed: self.closed - base.closed,
            spool_full: self.spool_full - base.spool_full,
            abandoned: self.abandoned - base.abandoned,
            failed: self.failed - base.failed,
        }
    }
}

impl Counters {
    /// Reserve a queue slot; `false` when `capacity` records are already queued.
    pub(crate) fn try_reserve(&self, capacity: u64) -> bool {
        let before = self.queued.fetch_add(1, Ordering::AcqRel);
        if before >= capacity {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Give back `n` slots without counting an outcome (a hook chose to drop a record).
    pub(crate) fn release(&self, n: u64) {
        if n > 0 {
            self.queued.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// A record was refused because the queue was full: count it, warn the first time.
    pub(crate) fn overflow(&self, capacity: u64) {
        self.queue_full.fetch_add(1, Ordering::Relaxed);
        if !self.overflow_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "humanloop_tracing",
                capacity,
                "log export queue is full (endpoint slow or down?); records are being dropped \
                 and counted in stats().dropped (further drops are not logged)"
            );
        }
    }

    pub(crate) fn sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
        self.release(n);
    }

    pub(crate) fn failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::AcqRel);
        self.release(n);
    }

    /// Records given up (shutdown deadline passed): they leave the queue as dropped.
    pub(crate) fn abandoned(&self, n: u64) {
        self.abandoned.fetch_add(n, Ordering::Relaxed);
        self.release(n);
    }

    /// A record taken from the queue that the full spool could not hold: dropped.
    pub(crate) fn spool_full(&self) {
        self.spool_full.fetch_add(1, Ordering::Relaxed);
        self.release(1);
    }

    /// A record submitted after shutdown (or with the worker gone): dropped, warned once.
    pub(crate) fn closed_drop(&self) {
        self.closed.fetch_add(1, Ordering::Relaxed);
        if !self.closed_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "humanloop_tracing",
                "a log record was submitted after the exporter shut down; it is dropped and \
                 counted in stats().dropped (further ones are not logged)"
            );
        }
    }

    pub(crate) fn losses(&self) -> Losses {
        Losses {
            queue_full: self.queue_full.load(Ordering::Acquire),
            closed: self.closed.load(Ordering::Acquire),
            spool_full: self.spool_full.load(Ordering::Acquire),
            abandoned: self.abandoned.load(Ordering::Acquire),
            failed: self.failed.load(Ordering::Acquire),
        }
    }

    /// Records replayed from the spool join the queue (bounded by the spool's cap, not by
    /// the queue's: they were accepted by an earlier process).
    pub(crate) fn replayed(&self, n: u64) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    pub(crate) fn spooled(&self, n: u64) {
        self.spooled.fetch_add(n, Ordering::Release);
    }

    pub(crate) fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ExportStats {
        ExportStats {
            queued: self.queued.load(Ordering::Acquire),
            sent: self.sent.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dropped: self.queue_full.load(Ordering::Relaxed)
                + self.closed.load(Ordering::Relaxed)
                + self.spool_full.load(Ordering::Relaxed)
                + self.abandoned.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Acquire),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_is_bounded_and_overflow_counts() {
        let c = Counters::default();
        assert!(c.try_reserve(2));
        assert!(c.try_reserve(2));
        assert!(!c.try_reserve(2));
        c.overflow(2);
        c.sent(1);
        assert!(c.try_reserve(2));
        let s = c.snapshot();
        assert_eq!((s.queued, s.sent, s.dropped), (2, 1, 1));
    }
}
