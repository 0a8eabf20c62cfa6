//! The exporter's worker: its own thread, its own current-thread runtime, its own client.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::instrument::WithSubscriber;
use tracing::Dispatch;

use super::order::{Batch, Buffer, Entry};
use super::spool::{NotSpooled, Spool};
use super::stats::Counters;
use super::{Control, ExportError, ExportRecord, Shared, Waiter};
#[cfg(feature = "transport")]
use crate::client::Client;
use crate::config::{Config, RetryPolicy};
#[cfg(not(feature = "transport"))]
use no_transport::Client;

/// Start the worker thread. If the thread cannot start, the receivers are dropped and every
/// later submit is refused and counted as dropped.
pub(super) fn spawn(
    config: Config,
    shared: Arc<Shared>,
    records: mpsc::Receiver<ExportRecord>,
    control: mpsc::UnboundedReceiver<Control>,
) {
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
            // The client is built here, on the exporter's own runtime, and retries are done
            // by the worker so that they can be counted.
            #[cfg(feature = "transport")]
            let client = match Client::from_config(&config) {
                Ok(c) => Some(c.with_retry_policy(RetryPolicy::none())),
                Err(error) => {
                    tracing::error!(target: "humanloop_tracing", %error, "log exporter could not build its endpoint client; logs will fail");
                    None
                }
            };
            #[cfg(not(feature = "transport"))]
            let client = no_transport::client(&config);
            let mut buffer = Buffer::default();
            let spool = config.export().spool_dir.as_ref().and_then(|dir| {
                match Spool::open(dir, config.export().spool_max_bytes) {
                    Ok((spool, replay)) => {
                        if !replay.is_empty() {
                            tracing::info!(target: "humanloop_tracing", records = replay.len(), dir = %dir.display(), "replaying logs left in the spool by a previous process");
                        }
                        shared.counters.replayed(replay.len() as u64);
                        let now = Instant::now();
                        for (id, entry) in replay {
                            buffer.push(entry, now, Some(id));
                        }
                        Some(spool)
                    }
                    Err(error) => {
                        tracing::error!(target: "humanloop_tracing", %error, dir = %dir.display(), "log spool could not be opened; logs are kept in memory only");
                        None
                    }
                }
            });
            let worker = Worker {
                retry: config.retry().clone(),
                batch_size: config.export().max_batch_size.max(1),
                delay: config.export().schedule_delay,
                request_timeout: config.export().export_timeout,
                client,
                shared,
                records,
                control,
                buffer,
                spool,
                warned_spool: false,
                flushes: Vec::new(),
                closing: None,
                abandoned: 0,
                warned_failure: false,
            };
            runtime.block_on(worker.run());
        });
    if let Err(error) = started {
        tracing::error!(target: "humanloop_tracing", %error, "log exporter thread could not start; logs will not be sent");
    }
}

/// What ended a wait during a delivery.
enum Event {
    /// The delivery is over, or its deadline passed.
    Done,
    /// Time to spool what arrived.
    Tick,
    Control(Control),
}

/// How often records arriving during a delivery are spooled.
const SPOOL_TICK: Duration = Duration::from_millis(10);

struct Worker {
    retry: RetryPolicy,
    batch_size: usize,
    delay: Duration,
    request_timeout: Duration,
    client: Option<Client>,
    shared: Arc<Shared>,
    records: mpsc::Receiver<ExportRecord>,
    control: mpsc::UnboundedReceiver<Control>,
    buffer: Buffer,
    /// The durable spool, when configured.
    spool: Option<Spool>,
    warned_spool: bool,
    /// Flush waiters with the sequence number below which everything must be resolved.
    flushes: Vec<(u64, Waiter)>,
    /// Shutdown in progress: its deadline and who to answer.
    closing: Option<(Instant, Vec<Waiter>)>,
    /// Records given up because the shutdown deadline passed.
    abandoned: u64,
    warned_failure: bool,
}

impl Worker {
    async fn run(mut self) {
        loop {
            self.drain_records();
            while let Ok(msg) = self.control.try_recv() {
                self.on_control(msg);
            }
            self.answer_flushes();

            if let Some((deadline, _)) = &self.closing {
                if self.buffer.is_empty() {
                    break;
                }
                if Instant::now() >= *deadline {
                    let n = self.buffer.abandon() as u64;
                    self.shared.counters.abandoned(n);
                    self.abandoned += n;
                    break;
                }
            }

            let hurry = !self.flushes.is_empty() || self.closing.is_some();
            if self.is_due(hurry) {
                let batch = self.buffer.take_ready(self.batch_size);
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
            let mut sleep = pin!(tokio::time::sleep_until(until.into()));
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
            self.on_control(msg);
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

    fn on_control(&mut self, msg: Control) {
        // Everything submitted before the message is in the channel: take it in first so the
        // flush covers it.
        self.drain_records();
        match msg {
            Control::Flush { deadline, reply } => {
                let watermark = self.buffer.next_seq();
                if self.buffer.done_below(watermark) {
                    reply.answer(Ok(()));
                    return;
                }
                let shared = self.shared.clone();
                let timer = reply.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(deadline.into()).await;
                    timer.answer(undelivered(&shared.counters));
                });
                self.flushes.push((watermark, reply));
            }
            Control::Shutdown { deadline, reply } => {
                let closing = self.closing.get_or_insert((deadline, Vec::new()));
                closing.0 = closing.0.min(deadline);
                closing.1.extend(reply);
            }
        }
    }

    fn answer_flushes(&mut self) {
        let buffer = &self.buffer;
        self.flushes.retain(|(watermark, waiter)| {
            if waiter.is_answered() {
                return false;
            }
            if buffer.done_below(*watermark) {
                waiter.answer(Ok(()));
                return false;
            }
            true
        });
    }

    fn finish(mut self) {
        self.answer_flushes();
        let queued = self.shared.counters.snapshot().queued;
        let result = match self.abandoned + queued {
            0 => Ok(()),
            undelivered => Err(ExportError::Timeout { undelivered }),
        };
        for (_, waiter) in self.flushes.drain(..) {
            waiter.answer(undelivered(&self.shared.counters));
        }
        if let Some((_, waiters)) = self.closing.take() {
            for waiter in waiters {
                waiter.answer(match &result {
                    Ok(()) => Ok(()),
                    Err(ExportError::Timeout { undelivered }) => Err(ExportError::Timeout {
                        undelivered: *undelivered,
                    }),
                });
            }
        }
        let stats = self.shared.counters.snapshot();
        if stats.dropped > 0 || stats.failed > 0 {
            tracing::warn!(
                target: "humanloop_tracing",
                sent = stats.sent,
                dropped = stats.dropped,
                failed = stats.failed,
                "log exporter stopped; some logs were not delivered"
            );
        }
    }

    /// Send one round. Under a shutdown deadline, whatever is not resolved by then is
    /// abandoned (counted as dropped).
    async fn send(&mut self, batch: Batch) {
        let total = batch.len() as u64;
        let mut resolved = 0u64;
        let mut failure: Option<String> = None;
        let deadline = self.closing.as_ref().map(|(d, _)| *d);
        let mut acked: Vec<u64> = Vec::new();
        let mut later: Vec<Control> = Vec::new();
        {
            let shared = &*self.shared;
            let delivery = deliver(
                self.client.as_ref(),
                &self.retry,
                &shared.counters,
                self.request_timeout,
                &batch,
                &mut resolved,
                &mut failure,
                &mut acked,
            )
            .with_subscriber(Dispatch::none());
            // While the delivery is in flight (an outage can keep it retrying for long): with
            // a spool, keep spooling what arrives, so that "accepted" soon means "on disk";
            // and take control messages, so that a shutdown's deadline also cuts this
            // delivery short (the others are handled once it is over).
            let records = &mut self.records;
            let control = &mut self.control;
            let spool = &mut self.spool;
            let buffer = &mut self.buffer;
            let warned = &mut self.warned_spool;
            let later = &mut later;
            let delivery = async move {
                let mut delivery = pin!(delivery);
                let mut cut = deadline;
                loop {
                    let far = Instant::now() + Duration::from_secs(3600);
                    let tick_at = if spool.is_some() {
                        Instant::now() + SPOOL_TICK
                    } else {
                        far
                    };
                    let mut tick = pin!(tokio::time::sleep_until(tick_at.into()));
                    let mut cut_at = pin!(tokio::time::sleep_until(cut.unwrap_or(far).into()));
                    let mut recv = pin!(control.recv());
                    let event = poll_fn(|cx| {
                        if delivery.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Event::Done);
                        }
                        if cut_at.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Event::Done);
                        }
                        if let Poll::Ready(Some(msg)) = recv.as_mut().poll(cx) {
                            return Poll::Ready(Event::Control(msg));
                        }
                        if tick.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(Event::Tick);
                        }
                        Poll::Pending
                    })
                    .await;
                    match event {
                        Event::Done => return,
                        Event::Tick => drain_into(shared, records, spool, buffer, warned),
                        Event::Control(msg) => {
                            if let Control::Shutdown { deadline: d, .. } = &msg {
                                cut = Some(cut.map_or(*d, |c| c.min(*d)));
                            }
                            later.push(msg);
                        }
                    }
                }
            };
            delivery.await;
        }
        for msg in later {
            self.on_control(msg);
        }
        if resolved < total {
            self.shared.counters.abandoned(total - resolved);
            self.abandoned += total - resolved;
        }
        if let Some(error) = failure {
            if !self.warned_failure {
                self.warned_failure = true;
                tracing::warn!(target: "humanloop_tracing", %error, "logs could not be delivered (counted in stats().failed; further failures are not logged)");
            }
        }
        if let Some(spool) = self.spool.as_mut() {
            if let Err(error) = spool.ack(&acked) {
                self.warn_spool(format!("log spool acknowledgement failed ({error})"));
            }
        }
        self.buffer.resolve_creates(&batch.creates);
        self.buffer.batch_done();
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
                shared.counters.abandoned(1);
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

fn undelivered(counters: &Counters) -> Result<(), ExportError> {
    match counters.snapshot().queued {
        0 => Ok(()),
        undelivered => Err(ExportError::Timeout { undelivered }),
    }
}

/// Send the creates in one request, then each update; counts outcomes as it goes so that
/// an abandoned delivery knows what is left, and collects the spool ids of the records
/// resolved (sent, refused, or out of retries) so that they leave the spool.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    client: Option<&Client>,
    policy: &RetryPolicy,
    counters: &Counters,
    timeout: Duration,
    batch: &Batch,
    resolved: &mut u64,
    failure: &mut Option<String>,
    acked: &mut Vec<u64>,
) {
    let Some(client) = client else {
        acked.extend(&batch.create_spool);
        acked.extend(batch.update_spool.iter().flatten());
        counters.failed(batch.len() as u64);
        *resolved = batch.len() as u64;
        *failure = Some("no endpoint client".into());
        return;
    };
    if !batch.creates.is_empty() {
        let n = batch.creates.len() as u64;
        match with_retry(policy, counters, timeout, || {
            client.log_batch(&batch.creates)
        })
        .await
        {
            Ok(_) => counters.sent(n),
            Err(e) => {
                counters.failed(n);
                *failure = Some(e);
            }
        }
        *resolved += n;
        acked.extend(&batch.create_spool);
    }
    for ((reference_id, update), spool_id) in batch.updates.iter().zip(&batch.update_spool) {
        match with_retry(policy, counters, timeout, || {
            client.update_log_by_reference(reference_id, update)
        })
        .await
        {
            Ok(_) => counters.sent(1),
            Err(e) => {
                counters.failed(1);
                *failure = Some(e);
            }
        }
        *resolved += 1;
        acked.extend(spool_id);
    }
}

/// One request with the policy's retries (each attempt bounded by `timeout`); the error's
/// text when it finally fails.
async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    counters: &Counters,
    timeout: Duration,
    mut op: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, crate::Error>>,
{
    let start = tokio::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (error, delay) = match tokio::time::timeout(timeout, op()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if !e.is_retryable() => return Err(e.to_string()),
            Ok(Err(e)) => {
                let delay = policy.delay_for(attempt, &e);
                (e.to_string(), delay)
            }
            Err(_) => (
                format!("export request timed out after {timeout:?}"),
                policy.backoff(attempt),
            ),
        };
        if !policy.allows_retry(attempt, start.elapsed(), delay) {
            return Err(error);
        }
        counters.retried();
        tokio::time::sleep(delay).await;
    }
}

/// A build without the `transport` feature has no endpoint client: records are counted as
/// failed with a message that names the missing feature. `Client` here has no value, so
/// the sending code type-checks unchanged and can never run.
#[cfg(not(feature = "transport"))]
mod no_transport {
    use crate::api::{CreateLogResponse, LogRequest, UpdateLogRequest};
    use crate::config::Config;

    pub(super) enum Client {}

    impl Client {
        pub(super) async fn log_batch(
            &self,
            _logs: &[LogRequest],
        ) -> Result<Vec<CreateLogResponse>, crate::Error> {
            match *self {}
        }

        pub(super) async fn update_log_by_reference(
            &self,
            _reference_id: &str,
            _update: &UpdateLogRequest,
        ) -> Result<serde_json::Value, crate::Error> {
            match *self {}
        }
    }

    pub(super) fn client(config: &Config) -> Option<Client> {
        if config.enabled() {
            tracing::warn!(target: "humanloop_tracing", "humanloop-tracing was built without an HTTP transport (features `rustls`, `rustls-ring`, `native-tls` or `transport`): logs are not sent");
        }
        None
    }
}
