//! The exporter's worker: its own thread and current-thread runtime (or a task on a runtime
//! it was given), delivering to its sink.
//!
//! One round: take the records that may go now (causal order), deliver them (creates in one
//! request, then each update), resolve them. A delivery runs until each record is resolved:
//! acknowledged, refused for good, or given up at a shutdown deadline. While the sink is
//! unavailable the delivery keeps probing with one request (the shared retry loop, with the
//! export policy), so an outage holds records instead of failing them; meanwhile the worker
//! keeps spooling what arrives and taking control messages.

use std::future::{poll_fn, Future};
use std::ops::Range;
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tracing::instrument::WithSubscriber;
use tracing::Dispatch;

use super::order::{Batch, Buffer, Entry};
use super::sink::{DynSink, SinkError};
use super::spool::{NotSpooled, Spool};
use super::{Control, ExportRecord, Shared, Waiter};
use crate::client::retry::{retry_with, Verdict};
use crate::config::{ExportConfig, RetryPolicy};

/// Start the worker: on a thread of its own with a current-thread runtime, or as a task on
/// `runtime`. If the thread cannot start, the receivers are dropped and every later submit
/// is refused and counted as dropped.
pub(super) fn spawn(
    export: ExportConfig,
    sink: Box<dyn DynSink>,
    runtime: Option<tokio::runtime::Handle>,
    shared: Arc<Shared>,
    records: mpsc::Receiver<ExportRecord>,
    control: mpsc::UnboundedReceiver<Control>,
) {
    if let Some(handle) = runtime {
        let worker = Worker::open(export, sink, shared, records, control);
        handle.spawn(worker.run());
        return;
    }
    let started = std::thread::Builder::new()
        .name("humanloop-export".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(error) => {
                    tracing::error!(target: "humanloop_tracing", %error, "log exporter could not start its runtime; logs will not be sent");
                    return;
                }
            };
            let worker = Worker::open(export, sink, shared, records, control);
            runtime.block_on(worker.run());
        });
    if let Err(error) = started {
        tracing::error!(target: "humanloop_tracing", %error, "log exporter thread could not start; logs will not be sent");
    }
}

/// What ended a wait during a delivery.
enum Event {
    /// This round's delivery is over.
    Done(usize),
    /// The shutdown deadline passed.
    Cut,
    /// Time to spool what arrived.
    Tick,
    /// A second round may be ready: a record was submitted, or the oldest one's delay passed.
    Ready,
    Control(Control),
}

/// How often records arriving during a delivery are spooled.
const SPOOL_TICK: Duration = Duration::from_millis(10);

/// What has been warned about (each kind once per exporter).
#[derive(Default)]
struct Warned {
    outage: bool,
    unauthorized: bool,
    refused: bool,
    gave_up: bool,
    /// In an outage now (to say when it ends).
    down: bool,
}

struct Worker {
    policy: RetryPolicy,
    batch_size: usize,
    delay: Duration,
    request_timeout: Duration,
    sink: Arc<dyn DynSink>,
    shared: Arc<Shared>,
    records: mpsc::Receiver<ExportRecord>,
    control: mpsc::UnboundedReceiver<Control>,
    buffer: Buffer,
    /// The durable spool, when configured.
    spool: Option<Spool>,
    warned_spool: bool,
    warned: Warned,
    /// Flush waiters with the sequence number below which everything must be resolved, and
    /// whether they report losses.
    flushes: Vec<(u64, Waiter, bool)>,
    /// Shutdown in progress: its deadline and who to answer.
    closing: Option<(Instant, Vec<Waiter>)>,
}

/// `now + timeout`, saturating (a `Duration::MAX` timeout means "no deadline" in practice).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl Worker {
    /// Set up: open the spool (replaying what a previous process left) in the worker's own
    /// context, off the caller's path.
    fn open(
        export: ExportConfig,
        sink: Box<dyn DynSink>,
        shared: Arc<Shared>,
        records: mpsc::Receiver<ExportRecord>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Worker {
        let mut buffer = Buffer::default();
        let spool = export.spool_dir.as_ref().and_then(|dir| {
            match Spool::open(dir, export.spool_max_bytes) {
                Ok((spool, replay)) => {
                    if !replay.is_empty() {
                        tracing::info!(target: "humanloop_tracing", records = replay.len(), dir = %dir.display(), "replaying logs left in the spool by a previous process");
                    }
                    shared.counters.replayed(replay.len() as u64);
                    let now = Instant::now();
                    for (id, entry) in replay {
                        buffer.push(entry, now, Some(id));
                    }
                    shared.spooled.store(true, Ordering::Relaxed);
                    Some(spool)
                }
                Err(error) => {
                    tracing::error!(target: "humanloop_tracing", %error, dir = %dir.display(), "log spool could not be opened; logs are kept in memory only");
                    None
                }
            }
        });
        Worker {
            policy: export.retry.clone(),
            batch_size: export.max_batch_size.max(1),
            delay: export.schedule_delay,
            request_timeout: export.export_timeout,
            sink: Arc::from(sink),
            shared,
            records,
            control,
            buffer,
            spool,
            warned_spool: false,
            warned: Warned::default(),
            flushes: Vec::new(),
            closing: None,
        }
    }

    async fn run(mut self) {
        loop {
            self.drain_records();
            while let Ok(msg) = self.control.try_recv() {
                self.on_control(msg, false);
            }
            self.answer_flushes();

            if let Some((deadline, _)) = &self.closing {
                if self.buffer.is_empty() {
                    break;
                }
                if Instant::now() >= *deadline {
                    let n = self.buffer.abandon() as u64;
                    self.shared.counters.abandoned(n);
                    break;
                }
            }

            let hurry = !self.flushes.is_empty() || self.closing.is_some();
            if self.is_due(hurry) {
                let batch = self.buffer.take_ready(self.batch_size, true);
                if !batch.is_empty() {
                    self.send(batch).await;
                    continue;
                }
            }
            self.wait(hurry).await;
        }
        self.finish();
    }

    fn is_due(&self, hurry: bool) -> bool {
        !self.buffer.is_empty()
            && (hurry
                || self.buffer.len() >= self.batch_size
                || self
                    .buffer
                    .oldest()
                    .is_some_and(|t| t.elapsed() >= self.delay))
    }

    /// Sleep until there is something to do: a full batch, the oldest record's delay, a
    /// control message, or the shutdown deadline.
    async fn wait(&mut self, hurry: bool) {
        if self.buffer.is_empty() {
            // Going idle: from now on the next record submitted wakes us. The swap
            // synchronises with the submitters' increments, so a record whose increment came
            // before it is seen by this drain (it did not wake us); one after it reads 0 and
            // notifies (`Notify` keeps the permit if we are not waiting yet).
            self.shared.since_wake.swap(0, Ordering::AcqRel);
            self.drain_records();
            if !self.buffer.is_empty() {
                return;
            }
        }
        let now = Instant::now();
        let far = now + Duration::from_secs(3600);
        let mut until = match self.buffer.oldest() {
            // Nothing ready although hurried (should not happen): do not spin.
            Some(_) if hurry => {
                now + self
                    .delay
                    .clamp(Duration::from_millis(10), Duration::from_secs(1))
            }
            Some(t) => t.checked_add(self.delay).unwrap_or(far).min(far),
            None => far,
        };
        if let Some((deadline, _)) = &self.closing {
            until = until.min(*deadline);
        }
        let shared = self.shared.clone();
        let msg = {
            let mut notified = pin!(shared.wake.notified());
            let mut sleep = pin!(tokio::time::sleep_until(until));
            let mut recv = pin!(self.control.recv());
            poll_fn(|cx| {
                if let Poll::Ready(msg) = recv.as_mut().poll(cx) {
                    return Poll::Ready(msg);
                }
                if notified.as_mut().poll(cx).is_ready() || sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            })
            .await
        };
        if let Some(msg) = msg {
            self.on_control(msg, false);
        }
    }

    fn drain_records(&mut self) {
        drain_into(
            &self.shared,
            &mut self.records,
            &mut self.spool,
            &mut self.buffer,
            &mut self.warned_spool,
        );
    }

    fn warn_spool(&mut self, message: String) {
        warn_spool(&mut self.warned_spool, message);
    }

    /// Handle a control message; `armed`: its flush deadline timer already runs (it
    /// arrived during a delivery).
    fn on_control(&mut self, msg: Control, armed: bool) {
        // Everything submitted before the message is in the channel: take it in first so the
        // flush covers it.
        self.drain_records();
        match msg {
            Control::Flush {
                timeout,
                reply,
                report,
            } => {
                let watermark = self.buffer.next_seq();
                if self.buffer.done_below(watermark) {
                    reply.answer_with(|| answer(&self.shared, report, 0));
                    return;
                }
                if !armed {
                    arm(&self.shared, timeout, &reply, report);
                }
                self.flushes.push((watermark, reply, report));
            }
            Control::Shutdown { timeout, reply } => {
                let deadline = deadline_after(timeout);
                let closing = self.closing.get_or_insert((deadline, Vec::new()));
                closing.0 = closing.0.min(deadline);
                closing.1.extend(reply);
            }
        }
    }

    fn answer_flushes(&mut self) {
        let buffer = &self.buffer;
        let shared = &self.shared;
        self.flushes.retain(|(watermark, waiter, report)| {
            if waiter.is_answered() {
                return false;
            }
            if buffer.done_below(*watermark) {
                waiter.answer_with(|| answer(shared, *report, 0));
                return false;
            }
            true
        });
    }

    fn finish(mut self) {
        self.answer_flushes();
        let queued = self.shared.counters.snapshot().queued;
        // One report for everyone still waiting (and for the log when nobody is).
        let result = self.shared.report(queued);
        if let Err(error) = &result {
            let stats = self.shared.counters.snapshot();
            tracing::warn!(
                target: "humanloop_tracing",
                sent = stats.sent,
                dropped = stats.dropped,
                failed = stats.failed,
                "log exporter stopped: {error}"
            );
        }
        for (_, waiter, _) in self.flushes.drain(..) {
            waiter.answer_with(|| result.clone());
        }
        if let Some((_, waiters)) = self.closing.take() {
            for waiter in waiters {
                waiter.answer_with(|| result.clone());
            }
        }
    }

    /// Send one round, and while it is in flight, further rounds whose records are
    /// independent of it (at most [`IN_FLIGHT`] requests at a time; a second one only while
    /// the endpoint answers, and updates in one round at a time). Returns once none is in
    /// flight. Under a shutdown deadline, whatever is not resolved by then is abandoned
    /// (counted as dropped).
    async fn send(&mut self, first: Batch) {
        let sink = self.sink.clone();
        let policy = self.policy.clone();
        let shared = self.shared.clone();
        let warned = Mutex::new(std::mem::take(&mut self.warned));
        let gate = Semaphore::new(1);
        let cx = Delivery {
            sink: &*sink,
            policy: &policy,
            shared: &shared,
            timeout: self.request_timeout,
            warned: &warned,
            gate: &gate,
        };
        let mut lanes: Vec<Lane<'_>> = Vec::with_capacity(IN_FLIGHT);
        lanes.push(Lane::start(&cx, first));
        // While requests are in flight (an outage can keep one probing for long): with a
        // spool, keep spooling what arrives, so that "accepted" soon means "on disk"; take
        // control messages (a shutdown's deadline also cuts the deliveries short); resolve
        // each round as it ends.
        loop {
            // Another request, while the endpoint answers (no request is waiting out an
            // outage) and records are ready that do not depend on those in flight.
            let now = Instant::now();
            let far = now + Duration::from_secs(3600);
            // When a second round could go out but none is ready: wake for the oldest
            // record's delay, or (nothing buffered) for the next record submitted.
            let mut ready_at = far;
            let mut on_submit = false;
            if lanes.len() < IN_FLIGHT && gate.available_permits() > 0 && !lock(&warned).down {
                self.drain_records();
                if self.buffer.is_empty() {
                    // As in `wait`: from now on the next record submitted notifies.
                    self.shared.since_wake.swap(0, Ordering::AcqRel);
                    self.drain_records();
                    on_submit = true;
                }
                let hurry = !self.flushes.is_empty() || self.closing.is_some();
                if self.is_due(hurry) {
                    let updates = !lanes.iter().any(|l| l.batch.has_updates());
                    let batch = self.buffer.take_ready(self.batch_size, updates);
                    if !batch.is_empty() {
                        lanes.push(Lane::start(&cx, batch));
                        continue;
                    }
                    // Due but every record waits for a round in flight: its end wakes us.
                } else if let Some(t) = self.buffer.oldest() {
                    ready_at = t.checked_add(self.delay).unwrap_or(far).min(far);
                }
            }
            let tick_at = if self.spool.is_some() {
                now + SPOOL_TICK
            } else {
                far
            };
            let cut = self.closing.as_ref().map(|(d, _)| *d);
            let mut tick = pin!(tokio::time::sleep_until(tick_at));
            let mut cut_at = pin!(tokio::time::sleep_until(cut.unwrap_or(far)));
            let mut ready = pin!(tokio::time::sleep_until(ready_at));
            let wake = self.shared.clone();
            let mut submitted = pin!(wake.wake.notified());
            let event = {
                let mut recv = pin!(self.control.recv());
                poll_fn(|c| {
                    for (i, lane) in lanes.iter_mut().enumerate() {
                        if lane.delivery.as_mut().poll(c).is_ready() {
                            return Poll::Ready(Event::Done(i));
                        }
                    }
                    if cut.is_some() && cut_at.as_mut().poll(c).is_ready() {
                        return Poll::Ready(Event::Cut);
                    }
                    if let Poll::Ready(Some(msg)) = recv.as_mut().poll(c) {
                        return Poll::Ready(Event::Control(msg));
                    }
                    if tick.as_mut().poll(c).is_ready() {
                        return Poll::Ready(Event::Tick);
                    }
                    if (on_submit && submitted.as_mut().poll(c).is_ready())
                        || (ready_at < far && ready.as_mut().poll(c).is_ready())
                    {
                        return Poll::Ready(Event::Ready);
                    }
                    Poll::Pending
                })
                .await
            };
            match event {
                Event::Done(i) => {
                    let lane = lanes.swap_remove(i);
                    self.resolve(lane);
                    self.answer_flushes();
                }
                Event::Cut => {
                    for lane in lanes.drain(..) {
                        self.resolve(lane);
                    }
                }
                Event::Tick => self.drain_records(),
                // The top of the loop takes the round.
                Event::Ready => {}
                Event::Control(msg) => {
                    // A flush or shutdown probes at once (not the parent barrier: it runs
                    // before every call naming a parent).
                    if matches!(
                        msg,
                        Control::Shutdown { .. } | Control::Flush { report: true, .. }
                    ) {
                        shared.probe_now.notify_one();
                    }
                    // A flush's deadline runs from now, whatever the deliveries do.
                    self.on_control(msg, false);
                }
            }
            if lanes.is_empty() {
                break;
            }
        }
        drop(lanes);
        self.warned = warned.into_inner().unwrap_or_else(|e| e.into_inner());
    }

    /// A round is over (or cut short): count what it left unresolved, tombstone what it
    /// resolved, and let the records that waited for it go.
    fn resolve(&mut self, lane: Lane<'_>) {
        let Lane {
            batch,
            progress,
            delivery,
        } = lane;
        drop(delivery);
        let progress = std::mem::take(&mut *lock(&progress));
        let total = batch.len() as u64;
        if progress.resolved < total {
            self.shared.counters.abandoned(total - progress.resolved);
        }
        if let Some(spool) = self.spool.as_mut() {
            if let Err(error) = spool.ack(&progress.acked) {
                self.warn_spool(format!("log spool acknowledgement failed ({error})"));
            }
        }
        self.buffer
            .resolve_creates(&batch.creates, &progress.refused_creates);
        self.buffer.batch_done(&batch);
    }
}

/// At most this many requests in flight: the endpoint decodes one while it stores the
/// other.
const IN_FLIGHT: usize = 2;

/// A round in flight.
struct Lane<'a> {
    batch: Arc<Batch>,
    progress: Arc<Mutex<Progress>>,
    delivery: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
}

impl<'a> Lane<'a> {
    fn start(cx: &'a Delivery<'a>, batch: Batch) -> Lane<'a> {
        let batch = Arc::new(batch);
        let progress = Arc::new(Mutex::new(Progress {
            refused_creates: vec![false; batch.creates.len()],
            ..Progress::default()
        }));
        let (b, p) = (batch.clone(), progress.clone());
        Lane {
            batch,
            progress,
            delivery: Box::pin(async move { deliver(cx, &b, &p).await }),
        }
    }
}

/// The lock, also after a panic elsewhere (the data is counters and flags).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start a flush's deadline timer: at `timeout`, it is answered with what is still queued
/// (unless the worker answered first).
fn arm(shared: &Arc<Shared>, timeout: Duration, reply: &Waiter, report: bool) {
    let shared = shared.clone();
    let timer = reply.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        timer.answer_with(|| {
            let queued = shared.counters.snapshot().queued;
            answer(&shared, report, queued)
        });
    });
}

/// The answer to a flush: the report of losses, or just "done" for the parent barrier.
fn answer(shared: &Shared, report: bool, undelivered: u64) -> Result<(), super::ExportError> {
    if report {
        shared.report(undelivered)
    } else {
        Ok(())
    }
}

/// Take in what was submitted: build deferred records (off the caller's path), append them
/// to the spool if there is one (one sync per round, before their first send attempt), and
/// buffer them.
fn drain_into(
    shared: &Shared,
    records: &mut mpsc::Receiver<ExportRecord>,
    spool: &mut Option<Spool>,
    buffer: &mut Buffer,
    warned_spool: &mut bool,
) {
    let mut spooled = 0u64;
    while let Ok(record) = records.try_recv() {
        let now = Instant::now();
        let entry = match record {
            ExportRecord::Create(log) => Entry::Create(log),
            ExportRecord::Update {
                reference_id,
                update,
            } => Entry::Update {
                reference_id,
                update,
            },
            ExportRecord::Deferred(build) => {
                match crate::hooks::contain("log builder", build).flatten() {
                    Some(log) => Entry::Create(Box::new(log)),
                    None => {
                        shared.counters.release(1);
                        continue;
                    }
                }
            }
        };
        let id = match spool.as_mut().map(|s| s.append(&entry)) {
            None => None,
            Some(Ok(id)) => {
                spooled += 1;
                Some(id)
            }
            Some(Err(NotSpooled::Full)) => {
                shared.counters.spool_full();
                warn_spool(warned_spool, "log spool is full (spool_max_bytes); records are being dropped and counted in stats().dropped".into());
                continue;
            }
            Some(Err(NotSpooled::Io(error))) => {
                warn_spool(
                    warned_spool,
                    format!("log spool write failed ({error}); records are kept in memory only"),
                );
                None
            }
        };
        buffer.push(entry, now, id);
    }
    // One sync per round, before the first send attempt of these records.
    if let Some(spool) = spool.as_mut() {
        match spool.commit() {
            Ok(()) => shared.counters.spooled(spooled),
            Err(error) => {
                warn_spool(warned_spool, format!("log spool sync failed ({error})"));
            }
        }
    }
}

fn warn_spool(warned: &mut bool, message: String) {
    if !*warned {
        *warned = true;
        tracing::warn!(target: "humanloop_tracing", "{message} (further spool problems are not logged)");
    }
}

/// What a delivery needs.
struct Delivery<'a> {
    sink: &'a dyn DynSink,
    policy: &'a RetryPolicy,
    shared: &'a Shared,
    timeout: Duration,
    warned: &'a Mutex<Warned>,
    /// Held by the request waiting out an outage: one probe at a time.
    gate: &'a Semaphore,
}

/// What a delivery got done, as it goes (a shutdown deadline may cut it short).
#[derive(Default)]
struct Progress {
    /// Records resolved (sent, refused, or given up by a bounded policy).
    resolved: u64,
    /// Spool ids of the records resolved, to tombstone.
    acked: Vec<u64>,
    /// Per create of the batch: refused for good.
    refused_creates: Vec<bool>,
}

/// How a request ended for good.
enum Fail {
    /// Refused: these records (indices in the request), or all of them (`None`).
    Refused {
        reason: String,
        records: Option<Vec<usize>>,
    },
    /// A bounded retry policy ran out while the sink was unavailable.
    GaveUp(String),
}

/// Deliver a round: updates of refused records fail at once; the creates go in one request,
/// split in halves while refused without saying which records are at fault; then each
/// update. Counts every record as it is resolved.
async fn deliver(cx: &Delivery<'_>, batch: &Batch, p: &Mutex<Progress>) {
    let counters = &cx.shared.counters;
    for (reference_id, spool) in &batch.doomed {
        counters.failed(1);
        refused(
            cx,
            Some(reference_id),
            "an update of a log the endpoint refused",
        );
        let mut p = lock(p);
        p.resolved += 1;
        p.acked.extend(spool);
    }
    let mut stack: Vec<Range<usize>> = Vec::new();
    stack.push(0..batch.creates.len());
    while let Some(range) = stack.pop() {
        if range.is_empty() {
            continue;
        }
        let part = &batch.creates[range.clone()];
        let n = part.len() as u64;
        match attempt(cx, || cx.sink.create(part)).await {
            Ok(()) => {
                counters.sent(n);
                lock(p).resolved += n;
            }
            Err(Fail::GaveUp(reason)) => {
                counters.failed(n);
                lock(p).resolved += n;
                for i in range.clone() {
                    lock(p).refused_creates[i] = true;
                    refused(cx, batch.creates[i].reference_id.as_deref(), &reason);
                }
            }
            Err(Fail::Refused { reason, records }) => {
                let named: Vec<usize> = records
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|&i| i < part.len())
                    .collect();
                let at_fault: Vec<usize> = if !named.is_empty() {
                    named
                } else if part.len() == 1 {
                    vec![0]
                } else {
                    // Which records? Halves, the first half first (the stack pops it first).
                    let mid = range.start + part.len() / 2;
                    stack.push(mid..range.end);
                    stack.push(range.start..mid);
                    continue;
                };
                // The refused ones fail; the runs between them are tried again.
                let mut runs = Vec::new();
                let mut from = range.start;
                for &i in &at_fault {
                    let i = range.start + i;
                    counters.failed(1);
                    {
                        let mut p = lock(p);
                        p.resolved += 1;
                        p.refused_creates[i] = true;
                    }
                    refused(cx, batch.creates[i].reference_id.as_deref(), &reason);
                    runs.push(from..i);
                    from = i + 1;
                }
                runs.push(from..range.end);
                stack.extend(runs.into_iter().rev());
            }
        }
    }
    lock(p).acked.extend(&batch.create_spool);
    for ((reference_id, update), spool) in batch.updates.iter().zip(&batch.update_spool) {
        match attempt(cx, || cx.sink.update(reference_id, update)).await {
            Ok(()) => counters.sent(1),
            Err(Fail::Refused { reason, .. } | Fail::GaveUp(reason)) => {
                counters.failed(1);
                refused(cx, Some(reference_id), &reason);
            }
        }
        let mut p = lock(p);
        p.resolved += 1;
        p.acked.extend(spool);
    }
}

/// A record failed for good: named in the next report, warned about once.
fn refused(cx: &Delivery<'_>, reference_id: Option<&str>, reason: &str) {
    cx.shared.note_refused(reference_id, reason);
    if !std::mem::replace(&mut lock(cx.warned).refused, true) {
        tracing::warn!(
            target: "humanloop_tracing",
            reference_id,
            "the endpoint refused a log for good ({reason}); it is counted in stats().failed and \
             named by the next flush or shutdown (further refusals are not logged)"
        );
    }
}

/// One request through the shared retry loop with the export policy: an outage (or a
/// refused key) is waited out, probing with this one request; a refusal ends it.
async fn attempt<'b, F>(cx: &Delivery<'_>, mut op: F) -> Result<(), Fail>
where
    F: FnMut() -> super::sink::BoxFuture<'b, Result<(), SinkError>>,
{
    let timeout = cx.timeout;
    let told = std::sync::atomic::AtomicBool::new(false);
    let told = &told;
    // Held from the first retry to the end: with two requests in flight, only one waits
    // out an outage, probing; the other waits for it.
    let probing = Mutex::new(None);
    let probing = &probing;
    let result = retry_with(
        cx.policy,
        || {
            // The sink's own requests are never traced (not by the crate's layers, nor the
            // application's subscriber); the exporter's warnings below are.
            let request = op().with_subscriber(Dispatch::none());
            async move {
                match tokio::time::timeout(timeout, request).await {
                    Ok(result) => result,
                    Err(_) => Err(SinkError::unavailable(
                        format!("no answer within {timeout:?} (export_timeout)"),
                        None,
                    )),
                }
            }
        },
        |e: &SinkError| match e {
            SinkError::Unavailable { retry_after, .. } => Verdict::Retry {
                after: *retry_after,
            },
            SinkError::Unauthorized { .. } => Verdict::Retry { after: None },
            SinkError::Refused { .. } => Verdict::Stop,
        },
        |e, delay| {
            told.store(matches!(
                e,
                SinkError::Unavailable {
                    retry_after: Some(_),
                    ..
                }
            ), Ordering::Relaxed);
            cx.shared.counters.retried();
            cx.shared.note_unavailable(&e.to_string());
            let mut warned = lock(cx.warned);
            if let SinkError::Unauthorized { reason } = e {
                if !std::mem::replace(&mut warned.unauthorized, true) {
                    tracing::error!(
                        target: "humanloop_tracing",
                        "the endpoint refused the API key ({reason}): logs are kept and \
                         retried, but none will be delivered until the key is fixed \
                         (HUMANLOOP_API_KEY); with a spool, a restart with the right key \
                         delivers them"
                    );
                }
            } else if !warned.down {
                if !std::mem::replace(&mut warned.outage, true) {
                    tracing::warn!(
                        target: "humanloop_tracing",
                        ?delay,
                        "the log endpoint is unavailable ({e}); logs are kept (up to \
                         max_queue_size, or the spool's cap) and delivered when it answers \
                         again, probing with one request at a time"
                    );
                } else {
                    tracing::info!(target: "humanloop_tracing", "the log endpoint is unavailable again ({e}); logs are kept");
                }
            }
            warned.down = true;
        },
        |delay| async move {
            if lock(probing).is_none() {
                let waited = cx.gate.available_permits() == 0;
                if let Ok(permit) = cx.gate.acquire().await {
                    *lock(probing) = Some(permit);
                }
                if waited && !lock(cx.warned).down {
                    // The other request got through meanwhile: the endpoint answers.
                    return;
                }
            }
            // A flush or shutdown arriving meanwhile probes at once: the endpoint may be
            // back, and their deadline may be shorter than the backoff. Not a wait the
            // endpoint asked for (`Retry-After`).
            if told.load(Ordering::Relaxed) {
                return tokio::time::sleep(delay).await;
            }
            let mut sleep = pin!(tokio::time::sleep(delay));
            let mut now = pin!(cx.shared.probe_now.notified());
            poll_fn(|c| {
                if sleep.as_mut().poll(c).is_ready() || now.as_mut().poll(c).is_ready() {
                    return Poll::Ready(());
                }
                Poll::Pending
            })
            .await
        },
    )
    .await;
    match result {
        Ok(()) => {
            if std::mem::replace(&mut lock(cx.warned).down, false) {
                tracing::info!(target: "humanloop_tracing", "the log endpoint answers again; delivering the backlog");
            }
            Ok(())
        }
        Err(SinkError::Refused { reason, records }) => Err(Fail::Refused { reason, records }),
        Err(other) => {
            if !std::mem::replace(&mut lock(cx.warned).gave_up, true) {
                tracing::warn!(target: "humanloop_tracing", "log export gave up on records: the retry budget of ExportConfig::retry is spent ({other})");
            }
            Err(Fail::GaveUp(format!(
                "gave up after the retry budget (ExportConfig::retry): {other}"
            )))
        }
    }
}
