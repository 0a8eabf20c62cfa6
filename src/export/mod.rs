//! The background log exporter, modelled on OpenTelemetry's `BatchSpanProcessor`.
//!
//! * Records (finished LLM calls, steps opening and closing) are handed over with a
//!   non-blocking `try_send` into a bounded queue (`max_queue_size`), from any thread,
//!   inside or outside a runtime. When the queue is full the newest record is dropped and
//!   counted (the first drop is warned about); the caller never blocks.
//! * A worker (its own thread and current-thread tokio runtime, or a task on a runtime you
//!   give it with [`ExporterBuilder::runtime`]) delivers them to a [`LogSink`], by default
//!   the endpoint (arrays to `POST /logs`; over reqwest, [`EndpointSink`], with the
//!   `transport` feature, else over plain HTTP, [`HttpSink`]), by count (`max_batch_size`)
//!   or by delay (`schedule_delay`), whichever comes first.
//! * Causal order (see `order.rs`): a child is never sent before its parent's request
//!   succeeded, nor in the same request; a `PATCH` follows its `POST`.
//! * **An outage is not a failure.** While the sink is unavailable (503, 502, 429,
//!   connection refused or reset, timeouts, TLS errors) every record is kept: the worker
//!   probes with one request at a time, backing off per [`ExportConfig::retry`]
//!   (default: 500 ms doubling to at most 30 s between probes, honouring `Retry-After`, no
//!   time limit), and drains the backlog at full speed in causal order once it answers.
//!   What bounds the records held is the queue (or the spool's cap), never a retry budget.
//! * Only a permanent refusal (400, 404, 413, 422) fails a record: a refused batch is split
//!   in halves until the refused records are found, the others are delivered. A refused
//!   API key (401, 403) is reported once, as an error, and records are kept.
//! * No orphan cascade: a child whose parent was refused for good is delivered without the
//!   parent link, with metadata [`ORPHANED_PARENT_KEY`] naming the parent; an update of a
//!   refused record fails with it.
//! * [`flush`](LogExporter::flush) and [`shutdown`](LogExporter::shutdown) return an error
//!   whenever records were dropped, failed or are still undelivered since the start (or the
//!   last flush), with the counts and reasons ([`ExportError`]). Each kind of loss is warned
//!   about once, with its reason. Their futures need no particular runtime; blocking
//!   variants exist for code outside async contexts.
//!
//! [`ExportConfig::retry`]: crate::config::ExportConfig::retry
//!
//! # Durable spool (opt-in)
//!
//! With [`ExportConfig::spool_dir`](crate::config::ExportConfig::spool_dir) (env
//! `HUMANLOOP_SPOOL_DIR`) the worker appends every record it takes from the queue to an
//! on-disk log in that directory (length-prefixed, CRC-32-checked `serde_json` frames in
//! rotating segment files) and syncs it (`fdatasync`, once per round) **before the first
//! send attempt** of those records; it keeps spooling what arrives while the endpoint is
//! down. A record leaves the spool (a tombstone frame; fully resolved oldest segments are
//! deleted) once it is resolved: acknowledged by the endpoint or refused by it for good. On
//! start, the exporter replays what a previous process left, in the order it was accepted
//! (causal order is then applied as usual), before anything new.
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

#[cfg(feature = "transport")]
mod endpoint_sink;
mod http_sink;
mod order;
mod sink;
mod spool;
mod stats;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use crate::api::{LogRequest, UpdateLogRequest};
use crate::config::{Config, ExportConfig};

#[cfg(feature = "transport")]
pub use endpoint_sink::EndpointSink;
pub use http_sink::HttpSink;
pub use sink::{LogSink, MemorySink, SinkError};

use sink::DynSink;
use stats::Counters;

/// Metadata key set on a log whose parent was refused by the endpoint for good: the log is
/// delivered without `parent_reference_id`, and this key holds the parent's reference id.
pub const ORPHANED_PARENT_KEY: &str = "humanloop.orphaned_parent_reference_id";

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

/// Counters of the exporter, exact at any moment: every accepted record is in exactly one
/// of `queued`, `sent`, `failed` or (given up at a shutdown deadline) `dropped`, but those
/// an `on_log` hook chose to drop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Records accepted and not yet resolved (waiting, in flight, or held through an outage).
    pub queued: u64,
    /// Records the endpoint acknowledged.
    pub sent: u64,
    /// Failed attempts that were tried again (outage probes included).
    pub retried: u64,
    /// Records dropped: the queue was full, the exporter was shut down, the spool was
    /// full, or a shutdown deadline passed before they could be sent.
    pub dropped: u64,
    /// Records the endpoint refused for good (or, with a bounded
    /// [`ExportConfig::retry`](crate::config::ExportConfig::retry), that ran out of retries).
    pub failed: u64,
    /// Records written (and synced) to the durable spool, cumulative; 0 without a spool.
    /// Records replayed from a previous process's spool are not counted again.
    pub spooled: u64,
}

/// A record the endpoint refused for good.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The record's `reference_id` (for an update: the datapoint it completes).
    pub reference_id: Option<String>,
    /// Why, as the endpoint said it.
    pub reason: String,
}

/// At most this many refused records are named in one [`ExportError`].
const REFUSALS_NAMED: usize = 10;

/// Errors of flush and shutdown: not everything accepted since the start (or the last
/// flush) was delivered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Records were dropped, refused, or not delivered by the deadline.
    #[error("{}", describe(*.undelivered, *.dropped, *.failed, .refused, .reasons))]
    Incomplete {
        /// Not delivered by the deadline: still queued after a flush; given up by a
        /// shutdown (they stay in the spool for the next start when there is one).
        undelivered: u64,
        /// Dropped without an attempt: queue full, submitted after shutdown, spool full.
        dropped: u64,
        /// Refused by the endpoint for good (or out of retries with a bounded policy).
        failed: u64,
        /// The first refused records, with the endpoint's reasons.
        refused: Vec<Refusal>,
        /// One reason per kind of loss, for people.
        reasons: Vec<String>,
    },
}

impl ExportError {
    /// Records not delivered by the deadline.
    pub fn undelivered(&self) -> u64 {
        match self {
            ExportError::Incomplete { undelivered, .. } => *undelivered,
        }
    }
    /// Records dropped without an attempt.
    pub fn dropped(&self) -> u64 {
        match self {
            ExportError::Incomplete { dropped, .. } => *dropped,
        }
    }
    /// Records refused for good.
    pub fn failed(&self) -> u64 {
        match self {
            ExportError::Incomplete { failed, .. } => *failed,
        }
    }
    /// The first refused records.
    pub fn refused(&self) -> &[Refusal] {
        match self {
            ExportError::Incomplete { refused, .. } => refused,
        }
    }
}

fn describe(
    undelivered: u64,
    dropped: u64,
    failed: u64,
    refused: &[Refusal],
    reasons: &[String],
) -> String {
    // The reasons carry the counts; without them (built by hand), the counts alone.
    let mut out = String::from("log records lost or late: ");
    if reasons.is_empty() {
        out.push_str(&format!(
            "{undelivered} not delivered by the deadline, {dropped} dropped, {failed} refused"
        ));
    }
    out.push_str(&reasons.join("; "));
    for r in refused {
        out.push_str(&format!(
            "; refused {}: {}",
            r.reference_id.as_deref().unwrap_or("(no reference_id)"),
            r.reason
        ));
    }
    out
}

/// What happened since the last report (flush or shutdown answer): the counters then, the
/// records refused since, and the last reason the endpoint was unavailable.
#[derive(Default)]
struct Ledger {
    base: stats::Losses,
    refused: Vec<Refusal>,
    unavailable: Option<String>,
}

/// Control messages: few, each with a caller waiting on it, so the channel is small in
/// practice; records go through the bounded queue instead.
pub(crate) enum Control {
    Flush {
        timeout: Duration,
        reply: Waiter,
        /// Whether the answer reports (and so resets) the losses since the last report;
        /// the parent barrier only waits.
        report: bool,
    },
    Shutdown {
        timeout: Duration,
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

    /// Answer with what `result` computes, unless someone already did (then `result` is not
    /// run, so a late answer does not consume the ledger).
    pub(crate) fn answer_with(&self, result: impl FnOnce() -> Result<(), ExportError>) {
        let reply = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match reply {
            Some(Reply::Async(tx)) => {
                let _ = tx.send(result());
            }
            Some(Reply::Blocking(tx)) => {
                let _ = tx.try_send(result());
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
    /// Ends the wait between outage probes early (a flush or shutdown arrived).
    probe_now: Notify,
    /// Whether records given up at shutdown stay in a spool.
    spooled: AtomicBool,
    /// Losses since the last report (locked only by flush and shutdown answers and by the
    /// worker when a record is refused; never on the submit path).
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn submit(&self, record: ExportRecord) -> bool {
        if self.closed.load(Ordering::Acquire) {
            self.counters.closed_drop();
            return false;
        }
        if !self.counters.try_reserve(self.capacity) {
            self.counters.overflow(self.capacity);
            return false;
        }
        if self.records.try_send(record).is_err() {
            // Only when the worker is gone (its channel holds `capacity` like the counter).
            self.counters.release(1);
            self.counters.closed_drop();
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

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Note a record refused for good (named in the next report, up to a few).
    pub(crate) fn note_refused(&self, reference_id: Option<&str>, reason: &str) {
        let mut ledger = self.ledger();
        if ledger.refused.len() < REFUSALS_NAMED {
            ledger.refused.push(Refusal {
                reference_id: reference_id.map(str::to_owned),
                reason: reason.to_owned(),
            });
        }
    }

    /// Note why the endpoint is unavailable (the reason given for late records).
    pub(crate) fn note_unavailable(&self, reason: &str) {
        self.ledger().unavailable = Some(reason.to_owned());
    }

    /// The answer to a flush or shutdown: an error if anything since the last report was
    /// dropped, refused or given up, or if `undelivered` records are still queued. Resets
    /// the ledger.
    pub(crate) fn report(&self, undelivered: u64) -> Result<(), ExportError> {
        let mut ledger = self.ledger();
        let now = self.counters.losses();
        let d = now.since(&ledger.base);
        ledger.base = now;
        let refused = std::mem::take(&mut ledger.refused);
        let unavailable = ledger.unavailable.take();
        let undelivered = undelivered + d.abandoned;
        let dropped = d.queue_full + d.closed + d.spool_full;
        if undelivered == 0 && dropped == 0 && d.failed == 0 {
            return Ok(());
        }
        let mut reasons = Vec::new();
        let why = unavailable.map_or_else(String::new, |u| format!(": {u}"));
        if undelivered > 0 {
            let kept = if self.spooled.load(Ordering::Relaxed) {
                " (kept in the spool for the next start)"
            } else {
                ""
            };
            reasons.push(format!(
                "{undelivered} not delivered by the deadline{kept}{why}"
            ));
        }
        if d.queue_full > 0 {
            reasons.push(format!(
                "{} dropped because the queue was full (max_queue_size {}; the endpoint was slow or down)",
                d.queue_full, self.capacity
            ));
        }
        if d.closed > 0 {
            reasons.push(format!(
                "{} dropped because they were submitted after shutdown",
                d.closed
            ));
        }
        if d.spool_full > 0 {
            reasons.push(format!(
                "{} dropped because the spool was full (spool_max_bytes)",
                d.spool_full
            ));
        }
        if d.failed > 0 {
            reasons.push(format!("{} refused by the endpoint for good", d.failed));
        }
        Err(ExportError::Incomplete {
            undelivered,
            dropped,
            failed: d.failed,
            refused,
            reasons,
        })
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
            timeout: self.drain_for,
            reply: None,
        });
    }
}

/// Sets up a [`LogExporter`]: where it delivers (a [`LogSink`]; the endpoint by default)
/// and where its worker runs (its own thread by default).
///
/// ```
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use humanloop_tracing::export::{LogExporter, MemorySink};
/// use humanloop_tracing::{Config, Humanloop};
///
/// let sink = MemorySink::default();
/// let hl = Humanloop::with_exporter(Config::default(), LogExporter::builder().sink(sink))?;
/// # hl.shutdown_blocking(std::time::Duration::from_secs(1))?;
/// # Ok(()) }
/// # demo().unwrap();
/// ```
#[derive(Default)]
pub struct ExporterBuilder {
    sink: Option<Box<dyn DynSink>>,
    runtime: Option<tokio::runtime::Handle>,
}

impl fmt::Debug for ExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExporterBuilder")
            .field("sink", &self.sink.as_ref().map(|_| "custom"))
            .field("runtime", &self.runtime.is_some())
            .finish()
    }
}

impl ExporterBuilder {
    /// Deliver to `sink` instead of the configured endpoint.
    pub fn sink(mut self, sink: impl LogSink) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Run the worker as a task on this runtime instead of on a thread of its own.
    ///
    /// Meant for tests that drive time with tokio's paused clock
    /// (`#[tokio::test(start_paused = true)]`): the worker's batching delays, backoffs and
    /// deadlines then follow that clock. The worker does its spool I/O (when there is a
    /// spool) on that runtime's threads, and [`LogExporter::flush_blocking`] and
    /// [`LogExporter::shutdown_blocking`] must not be called from them (they would wait
    /// for a worker that cannot run).
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Start the exporter with `config`'s export settings. Without a sink, one for
    /// `config`'s endpoint is built: an [`EndpointSink`] with a client of its own (feature
    /// `transport`), else an [`HttpSink`] (plain HTTP).
    pub fn start(self, config: &Config) -> Result<LogExporter, crate::Error> {
        let sink: Box<dyn DynSink> = match self.sink {
            Some(sink) => sink,
            #[cfg(feature = "transport")]
            None => Box::new(EndpointSink::from_config(config)?),
            #[cfg(not(feature = "transport"))]
            None => Box::new(HttpSink::from_config(config)?),
        };
        Ok(LogExporter::spawn(config.export(), sink, self.runtime))
    }
}

/// The background exporter: bounded queue, batching, causal order, outage handling.
#[derive(Clone)]
pub struct LogExporter {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl fmt::Debug for LogExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogExporter")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A flush or shutdown answer to wait for.
enum Answer {
    Now(Result<(), ExportError>),
    Async(oneshot::Receiver<Result<(), ExportError>>),
    Blocking(std::sync::mpsc::Receiver<Result<(), ExportError>>),
}

impl LogExporter {
    /// A builder: sink and runtime of the worker.
    pub fn builder() -> ExporterBuilder {
        ExporterBuilder::default()
    }

    /// Start the worker delivering to `sink`.
    fn spawn(
        export: &ExportConfig,
        sink: Box<dyn DynSink>,
        runtime: Option<tokio::runtime::Handle>,
    ) -> LogExporter {
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
            probe_now: Notify::new(),
            spooled: AtomicBool::new(false),
            ledger: Mutex::new(Ledger::default()),
        });
        worker::spawn(
            export.clone(),
            sink,
            runtime,
            shared.clone(),
            records_rx,
            control_rx,
        );
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

    /// Queue a log for delivery without blocking; `false` if it was dropped (queue full,
    /// or the exporter was shut down), counted in [`stats`](Self::stats).
    pub fn log(&self, log: LogRequest) -> bool {
        self.submit(ExportRecord::Create(Box::new(log)))
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

    /// Send a flush or shutdown to the worker (the one place both, in both flavours, go).
    fn ask(&self, shutdown: bool, report: bool, timeout: Duration, blocking: bool) -> Answer {
        if shutdown && self.shared.closed.swap(true, Ordering::AcqRel) {
            return Answer::Now(self.shared.report(self.stats().queued));
        }
        let (reply, answer) = if blocking {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            (Reply::Blocking(tx), Answer::Blocking(rx))
        } else {
            let (tx, rx) = oneshot::channel();
            (Reply::Async(tx), Answer::Async(rx))
        };
        let reply = Waiter::new(reply);
        let msg = if shutdown {
            Control::Shutdown {
                timeout,
                reply: Some(reply),
            }
        } else {
            Control::Flush {
                timeout,
                reply,
                report,
            }
        };
        if self.shared.control.send(msg).is_err() {
            return Answer::Now(self.shared.report(self.stats().queued));
        }
        answer
    }

    fn gone(&self) -> Result<(), ExportError> {
        self.shared.report(self.stats().queued)
    }

    async fn wait(&self, answer: Answer) -> Result<(), ExportError> {
        match answer {
            Answer::Now(result) => result,
            Answer::Async(rx) => rx.await.unwrap_or_else(|_| self.gone()),
            Answer::Blocking(rx) => rx.recv().unwrap_or_else(|_| self.gone()),
        }
    }

    fn wait_blocking(&self, answer: Answer) -> Result<(), ExportError> {
        match answer {
            Answer::Now(result) => result,
            Answer::Async(rx) => rx.blocking_recv().unwrap_or_else(|_| self.gone()),
            Answer::Blocking(rx) => rx.recv().unwrap_or_else(|_| self.gone()),
        }
    }

    /// Deliver everything submitted before this call, then say whether anything since the
    /// start (or the last flush) was lost: an [`ExportError`] names what was dropped,
    /// refused, or not delivered by `timeout`. The future needs no particular runtime.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ExportError> {
        self.wait(self.ask(false, true, timeout, false)).await
    }

    /// [`flush`](Self::flush) for code outside async contexts: blocks the thread.
    pub fn flush_blocking(&self, timeout: Duration) -> Result<(), ExportError> {
        self.wait_blocking(self.ask(false, true, timeout, true))
    }

    /// Wait (up to `timeout`) until what was submitted so far is resolved, without
    /// reporting losses (they stay for the next flush or shutdown). The traced endpoint
    /// client's parent barrier (feature `transport`).
    #[cfg(feature = "transport")]
    pub(crate) async fn settle(&self, timeout: Duration) {
        let _ = self.wait(self.ask(false, false, timeout, false)).await;
    }

    /// Deliver everything queued (by `timeout`), then stop the worker; the answer is that of
    /// [`flush`](Self::flush). Records submitted afterwards are dropped and counted.
    /// Calling it again returns at once.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        self.wait(self.ask(true, true, timeout, false)).await
    }

    /// [`shutdown`](Self::shutdown) for code outside async contexts: blocks the thread.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), ExportError> {
        self.wait_blocking(self.ask(true, true, timeout, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refuses, without saying which, every request holding a record whose reference id
    /// starts with `bad`; keeps what it accepts.
    #[derive(Clone, Default)]
    struct RefusesBad {
        kept: Arc<Mutex<Vec<String>>>,
        requests: Arc<Mutex<u32>>,
    }

    impl LogSink for RefusesBad {
        async fn create(&self, logs: &[LogRequest]) -> Result<(), SinkError> {
            *self.requests.lock().unwrap() += 1;
            let refs = logs
                .iter()
                .map(|l| l.reference_id.clone().unwrap_or_default());
            if refs.clone().any(|r| r.starts_with("bad")) {
                return Err(SinkError::refused("HTTP 400: something in there"));
            }
            self.kept.lock().unwrap().extend(refs);
            Ok(())
        }
        async fn update(&self, _: &str, _: &UpdateLogRequest) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[test]
    fn a_refused_batch_is_bisected_to_the_refused_records() {
        let sink = RefusesBad::default();
        let exporter = LogExporter::builder()
            .sink(sink.clone())
            .start(&Config::default())
            .unwrap();
        let name = |i: usize| match i {
            13 | 40 => format!("bad-{i}"),
            _ => format!("ok-{i}"),
        };
        for i in 0..64 {
            assert!(exporter.log(LogRequest {
                reference_id: Some(name(i)),
                ..LogRequest::default()
            }));
        }
        let err = exporter
            .shutdown_blocking(Duration::from_secs(10))
            .unwrap_err();
        assert_eq!((err.failed(), err.dropped(), err.undelivered()), (2, 0, 0));
        let mut refused: Vec<_> = err
            .refused()
            .iter()
            .map(|r| r.reference_id.clone().unwrap())
            .collect();
        refused.sort();
        assert_eq!(refused, ["bad-13", "bad-40"]);
        let mut kept = sink.kept.lock().unwrap().clone();
        kept.sort();
        let mut want: Vec<String> = (0..64)
            .filter(|i| ![13, 40].contains(i))
            .map(name)
            .collect();
        want.sort();
        assert_eq!(kept, want, "every other record delivered once");
        // Halving finds 2 records among 64 in far fewer requests than one per record.
        let requests = *sink.requests.lock().unwrap();
        assert!(requests <= 2 * 2 * 6 + 1, "{requests} requests");
        let s = exporter.stats();
        assert_eq!((s.sent, s.failed, s.queued, s.retried), (62, 2, 0, 0));
    }

    #[test]
    fn deferred_records_run_on_the_worker_and_panics_are_contained() {
        let sink = MemorySink::default();
        let exporter = LogExporter::builder()
            .sink(sink.clone())
            .start(&Config::default())
            .unwrap();
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
        assert_eq!(sink.calls(), 0);
        exporter.shutdown_blocking(Duration::from_secs(5)).unwrap();
        assert!(!exporter.submit(ExportRecord::Deferred(Box::new(|| None))));
        assert_eq!(exporter.stats().dropped, 1);
        // The drop after shutdown is reported by the next answer.
        let err = exporter
            .shutdown_blocking(Duration::from_secs(1))
            .unwrap_err();
        assert_eq!((err.dropped(), err.failed(), err.undelivered()), (1, 0, 0));
        assert!(err.to_string().contains("after shutdown"), "{err}");
    }
}
