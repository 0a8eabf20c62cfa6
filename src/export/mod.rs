//! The background log exporter, modelled on OpenTelemetry's `BatchSpanProcessor`.
//!
//! * Records (finished LLM calls, steps opening and closing) are handed over with a
//!   non-blocking `try_send` into a bounded queue (`max_queue_size`), from any thread,
//!   inside or outside a runtime. When the queue is full the record is dropped and counted
//!   (the first drop is warned about).
//! * A worker thread with its own current-thread tokio runtime and its own endpoint
//!   [`Client`](crate::Client) (built there from the configuration, never instrumented) sends
//!   them as arrays to `POST /logs`, by count (`max_batch_size`) or by delay
//!   (`schedule_delay`), whichever comes first.
//! * Causal order (see `order.rs`): a child is never sent before its parent's request
//!   succeeded, nor in the same request; a `PATCH` follows its `POST`.
//! * Retries follow the configured [`RetryPolicy`](crate::config::RetryPolicy) and are
//!   counted; records that run out of retries or are refused are counted as failed.
//! * [`flush`](LogExporter::flush) and [`shutdown`](LogExporter::shutdown) are
//!   request/reply messages to the worker with a deadline; their futures need no particular
//!   runtime. Blocking variants exist for code outside async contexts.
//!
//! # Durable spool (opt-in)
//!
//! With [`ExportConfig::spool_dir`](crate::config::ExportConfig::spool_dir) (env
//! `HUMANLOOP_SPOOL_DIR`) the worker appends every record it takes from the queue to an
//! on-disk log in that directory (length-prefixed, CRC-32-checked `serde_json` frames in
//! rotating segment files) and syncs it (`fdatasync`, once per round) **before the first
//! send attempt** of those records; it keeps spooling what arrives while a delivery is
//! retrying. A record leaves the spool (a tombstone frame; fully resolved oldest segments are
//! deleted) once it is resolved: acknowledged by the endpoint, refused by it, or out of
//! retries (those are counted in `failed`, as without a spool). On start, the exporter
//! replays what a previous process left, in the order it was accepted (causal order is then
//! applied as usual), before anything new.
//!
//! Guarantee and trade-off: the disk write happens on the worker thread, never on the
//! caller's path, so "durably accepted" means "spooled by the worker"
//! ([`ExportStats::spooled`] counts those). A crash loses at most the records still in the
//! in-memory queue (submitted within the last few milliseconds), never a spooled one.
//! Delivery is at-least-once: a crash between the endpoint's acknowledgement and the
//! tombstone (or a power cut losing an unsynced tombstone) sends the record again under the
//! same `reference_id`. Records a shutdown deadline abandons stay spooled for the next
//! start. Past [`spool_max_bytes`](crate::config::ExportConfig::spool_max_bytes) new records
//! are dropped and counted in `dropped` (the caller is never blocked). A truncated or
//! corrupt segment is recovered up to its last good record, with a warning. Deferred
//! records (finished LLM calls) are built before they are spooled, so the spool holds
//! plain logs. Use one spool directory per process.
//!
//! ```
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! let hl = humanloop_tracing::Humanloop::new(
//!     humanloop_tracing::Config::builder().base_url("http://127.0.0.1:9/v4").build()?,
//! )?;
//! assert_eq!(hl.stats().queued, 0);
//! hl.shutdown_blocking(Duration::from_secs(1))?; // nothing queued: returns at once
//! # Ok(()) }
//! # demo().unwrap();
//! ```

mod order;
mod spool;
mod stats;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::api::{LogRequest, UpdateLogRequest};
use crate::config::Config;

use stats::Counters;

/// One unit of work for the exporter.
pub(crate) enum ExportRecord {
    /// Create a datapoint (a step when it opens).
    Create(Box<LogRequest>),
    /// Create a datapoint whose log is built on the exporter's thread, off the caller's
    /// path (a finished LLM call). `None` drops it (e.g. an `on_log` hook said so).
    /// A panic inside is contained and counted.
    Deferred(Box<dyn FnOnce() -> Option<LogRequest> + Send>),
    /// Complete a datapoint logged earlier (a step when it closes).
    Update {
        reference_id: String,
        update: UpdateLogRequest,
    },
}

/// Counters of the exporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Records accepted and not yet resolved (waiting or in flight).
    pub queued: u64,
    /// Records the endpoint acknowledged.
    pub sent: u64,
    /// Retried requests.
    pub retried: u64,
    /// Records dropped: the queue was full, the exporter was shut down, or a shutdown
    /// deadline passed before they could be sent.
    pub dropped: u64,
    /// Records the endpoint rejected for good, or that ran out of retries.
    pub failed: u64,
    /// Records written (and synced) to the durable spool, cumulative; 0 without a spool.
    /// Records replayed from a previous process's spool are not counted again.
    pub spooled: u64,
}

/// Errors of flush and shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The deadline passed with records still undelivered.
    #[error("{undelivered} log records were not delivered before the deadline")]
    Timeout {
        /// Records not delivered.
        undelivered: u64,
    },
}

/// Control messages: few, each with a caller waiting on it, so the channel is small in
/// practice; records go through the bounded queue instead.
pub(crate) enum Control {
    Flush {
        deadline: Instant,
        reply: Waiter,
    },
    Shutdown {
        deadline: Instant,
        reply: Option<Waiter>,
    },
}

/// Where a flush or shutdown answer goes. Whoever answers first (the worker when done, or
/// the deadline timer) takes it.
#[derive(Clone)]
pub(crate) struct Waiter(Arc<Mutex<Option<Reply>>>);

pub(crate) enum Reply {
    Async(oneshot::Sender<Result<(), ExportError>>),
    Blocking(std::sync::mpsc::SyncSender<Result<(), ExportError>>),
}

impl Waiter {
    fn new(reply: Reply) -> Self {
        Waiter(Arc::new(Mutex::new(Some(reply))))
    }

    /// Answer, unless someone already did.
    pub(crate) fn answer(&self, result: Result<(), ExportError>) {
        let reply = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match reply {
            Some(Reply::Async(tx)) => {
                let _ = tx.send(result);
            }
            Some(Reply::Blocking(tx)) => {
                let _ = tx.try_send(result);
            }
            None => {}
        }
    }

    pub(crate) fn is_answered(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

/// State shared by every handle and the worker.
pub(crate) struct Shared {
    records: mpsc::Sender<ExportRecord>,
    control: mpsc::UnboundedSender<Control>,
    /// Wakes the worker for the first record after it went idle with nothing buffered, and
    /// every `batch_size` records after that (so a full batch goes without waiting for the
    /// delay); the records in between do not wake it.
    wake: Notify,
    /// Records submitted since the worker last went idle with nothing buffered (reset by
    /// the worker only then).
    since_wake: AtomicUsize,
    counters: Counters,
    capacity: u64,
    /// `max_batch_size`, at least 1 and at most the queue capacity.
    batch_size: usize,
    /// Set once shutdown began: later records are refused.
    closed: AtomicBool,
}

impl Shared {
    fn submit(&self, record: ExportRecord) -> bool {
        if self.closed.load(Ordering::Acquire) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if !self.counters.try_reserve(self.capacity) {
            self.counters.overflow(self.capacity);
            return false;
        }
        if self.records.try_send(record).is_err() {
            // Only when the worker is gone (its channel holds `capacity` like the counter).
            self.counters.release(1);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        // Wake the worker for the first record since it went idle (it waits for nothing in
        // particular and must start this record's delay) and once per batch. Any other
        // wake-up would be a cross-thread futex wake per record for nothing: the worker is
        // either busy and drains when done, or waiting for the oldest record's delay.
        let since = self.since_wake.fetch_add(1, Ordering::AcqRel) + 1;
        if since == 1 || since % self.batch_size == 0 {
            self.wake.notify_one();
        }
        true
    }
}

/// A submit-only handle for the tracing layer: it does not keep the exporter "owned", so
/// dropping every [`Humanloop`](crate::Humanloop) still triggers the missing-shutdown warning.
#[derive(Clone)]
pub(crate) struct Submitter {
    shared: Arc<Shared>,
}

impl Submitter {
    /// Hand a record over without blocking; `false` if it was dropped.
    pub(crate) fn submit(&self, record: ExportRecord) -> bool {
        self.shared.submit(record)
    }
}

/// Warns (once per process) when the last owning handle goes without a shutdown, and lets
/// the worker drain in the background for up to `export_timeout`.
struct Owner {
    shared: Arc<Shared>,
    drain_for: Duration,
}

/// `now + timeout`, saturating (a `Duration::MAX` timeout means "no deadline" in practice).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

static DROP_WARNED: AtomicBool = AtomicBool::new(false);

impl Drop for Owner {
    fn drop(&mut self) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let queued = self.shared.counters.snapshot().queued;
        if !DROP_WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "humanloop_tracing",
                queued,
                "Humanloop dropped without shutdown(); queued logs are sent in the background \
                 and may be lost at exit: call `hl.shutdown(timeout)` before exiting"
            );
        }
        let _ = self.shared.control.send(Control::Shutdown {
            deadline: deadline_after(self.drain_for),
            reply: None,
        });
    }
}

/// The background exporter: bounded queue, batching, causal order, retries.
#[derive(Clone)]
pub struct LogExporter {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for LogExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogExporter")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LogExporter {
    /// Start the worker thread. Its endpoint client is built there from `config`.
    pub(crate) fn start(config: &Config) -> LogExporter {
        let export = config.export();
        let capacity = export
            .max_queue_size
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        let (records_tx, records_rx) = mpsc::channel(capacity);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            records: records_tx,
            control: control_tx,
            wake: Notify::new(),
            since_wake: AtomicUsize::new(0),
            counters: Counters::default(),
            capacity: capacity as u64,
            batch_size: export.max_batch_size.clamp(1, capacity),
            closed: AtomicBool::new(false),
        });
        worker::spawn(config.clone(), shared.clone(), records_rx, control_rx);
        LogExporter {
            _owner: Arc::new(Owner {
                shared: shared.clone(),
                drain_for: export.export_timeout,
            }),
            shared,
        }
    }

    /// Hand a record over without blocking; `false` if it was dropped (queue full, or
    /// the exporter was shut down).
    pub(crate) fn submit(&self, record: ExportRecord) -> bool {
        self.shared.submit(record)
    }

    /// A submit-only handle that does not count as an owner.
    pub(crate) fn submitter(&self) -> Submitter {
        Submitter {
            shared: self.shared.clone(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> ExportStats {
        self.shared.counters.snapshot()
    }

    fn undelivered(&self) -> Result<(), ExportError> {
        match self.stats().queued {
            0 => Ok(()),
            undelivered => Err(ExportError::Timeout { undelivered }),
        }
    }

    /// Deliver everything submitted before this call, or say how much was not delivered
    /// by `timeout`. The future needs no particular runtime.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ExportError> {
        let (tx, rx) = oneshot::channel();
        let msg = Control::Flush {
            deadline: deadline_after(timeout),
            reply: Waiter::new(Reply::Async(tx)),
        };
        if self.shared.control.send(msg).is_err() {
            return self.undelivered();
        }
        rx.await.unwrap_or_else(|_| self.undelivered())
    }

    /// [`flush`](Self::flush) for code outside async contexts: blocks the thread.
    pub fn flush_blocking(&self, timeout: Duration) -> Result<(), ExportError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let msg = Control::Flush {
            deadline: deadline_after(timeout),
            reply: Waiter::new(Reply::Blocking(tx)),
        };
        if self.shared.control.send(msg).is_err() {
            return self.undelivered();
        }
        rx.recv().unwrap_or_else(|_| self.undelivered())
    }

    /// Deliver everything queued (by `timeout`), then stop the worker. Records submitted
    /// afterwards are dropped and counted. Calling it again returns at once.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return self.undelivered();
        }
        let (tx, rx) = oneshot::channel();
        let msg = Control::Shutdown {
            deadline: deadline_after(timeout),
            reply: Some(Waiter::new(Reply::Async(tx))),
        };
        if self.shared.control.send(msg).is_err() {
            return self.undelivered();
        }
        rx.await.unwrap_or_else(|_| self.undelivered())
    }

    /// [`shutdown`](Self::shutdown) for code outside async contexts: blocks the thread.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), ExportError> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return self.undelivered();
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let msg = Control::Shutdown {
            deadline: deadline_after(timeout),
            reply: Some(Waiter::new(Reply::Blocking(tx))),
        };
        if self.shared.control.send(msg).is_err() {
            return self.undelivered();
        }
        rx.recv().unwrap_or_else(|_| self.undelivered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_records_run_on_the_worker_and_panics_are_contained() {
        let config = Config::builder()
            .base_url("http://127.0.0.1:9/v4")
            .build()
            .unwrap();
        let exporter = LogExporter::start(&config);
        let before = crate::hooks::hook_panics();
        let caller = std::thread::current().id();
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(exporter.submit(ExportRecord::Deferred(Box::new(move || {
            tx.send(std::thread::current().id()).unwrap();
            None
        }))));
        assert!(exporter.submit(ExportRecord::Deferred(Box::new(|| panic!("a user hook")))));
        exporter.flush_blocking(Duration::from_secs(5)).unwrap();
        assert_ne!(rx.recv().unwrap(), caller, "built on the exporter's thread");
        let s = exporter.stats();
        assert_eq!((s.queued, s.sent, s.failed, s.dropped), (0, 0, 0, 0));
        assert_eq!(crate::hooks::hook_panics(), before + 1);
        exporter.shutdown_blocking(Duration::from_secs(5)).unwrap();
        assert!(!exporter.submit(ExportRecord::Deferred(Box::new(|| None))));
        assert_eq!(exporter.stats().dropped, 1);
    }
}
