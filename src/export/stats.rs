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
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) spooled: AtomicU64,
    /// Set once the first overflow has been warned about.
    overflow_warned: AtomicBool,
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
        self.dropped.fetch_add(1, Ordering::Relaxed);
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
        self.failed.fetch_add(n, Ordering::Relaxed);
        self.release(n);
    }

    /// Records given up (shutdown deadline passed): they leave the queue as dropped.
    pub(crate) fn abandoned(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.release(n);
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
            dropped: self.dropped.load(Ordering::Relaxed),
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
