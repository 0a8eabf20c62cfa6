//! [`Finisher`]: the thread where finished streams are completed, off the caller's path.
//!
//! When a stream finishes, the caller's thread only notes the time and ends the span's
//! timing (one more enter and exit, so the span's end time is the finish); splitting and
//! decoding the kept bytes, recording the response attributes and metrics, handing the log
//! to the exporter and closing the span (which is when an OpenTelemetry layer exports it)
//! are one job for this thread. Jobs take microseconds and never wait on the network, so a
//! span reaches the subscriber moments after its call finished;
//! [`Humanloop::flush_spans`](crate::Humanloop::flush_spans) waits for that. A plain call
//! is completed on the caller's thread: its job is short, and handing it over cost more
//! (`Call::finish`).
//!
//! The queue is bounded. When it is full, or the thread cannot be started, the job runs
//! on the caller's thread as before: nothing is dropped and nothing waits.
//!
//! Waking a sleeping thread costs the waker a system call and, on a virtual machine, often
//! tens of microseconds: more than the job. So callers do not wake the finisher for each
//! job. While calls come, it looks at its queue every [`TICK`] on its own; after
//! [`IDLE_TICKS`] empty looks it sleeps until woken, and only then does the next caller
//! wake it (also past [`WAKE_JOBS`] queued jobs, and [`Finisher::wait`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

/// How often the finisher looks at its queue while calls come.
const TICK: Duration = Duration::from_millis(1);

/// Empty looks after which the finisher sleeps until a caller wakes it.
const IDLE_TICKS: u32 = 200;

/// Jobs, and bytes they hold, past which a caller wakes the finisher before its next look
/// (under a burst of calls: one wake per so many, and little held meanwhile).
const WAKE_JOBS: usize = 64;
const WAKE_BYTES: usize = 1024 * 1024;

/// Jobs queued at most; past this the caller runs its own job.
const CAPACITY: usize = 1024;

/// Bytes the queued jobs may hold (the response bodies they are to decode); past this the
/// caller runs its own job.
const BYTES: usize = 16 * 1024 * 1024;

/// One finished call to complete.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

enum Msg {
    /// A job and the bytes it holds.
    Run(Job, usize),
    /// Answered once every job queued before it has run.
    Barrier(std::sync::mpsc::SyncSender<()>),
}

/// The completing thread of one [`Recorder`](super::Recorder), started with its first job.
/// It ends when the recorder is dropped and its queue is drained.
#[derive(Default)]
pub(crate) struct Finisher {
    tx: OnceLock<Option<(SyncSender<Msg>, Thread)>>,
    /// Bytes held by the jobs in the queue.
    held: Arc<AtomicUsize>,
    /// Jobs in the queue.
    queued: Arc<AtomicUsize>,
    /// The finisher sleeps until woken (see the module's notes).
    asleep: Arc<AtomicBool>,
}

impl Drop for Finisher {
    fn drop(&mut self) {
        // A sleeping finisher must see its queue close (it drains what is left first).
        if let Some(Some((_, thread))) = self.tx.get() {
            thread.unpark();
        }
    }
}

/// The finisher's loop: run what is queued, look again every [`TICK`], sleep when idle.
fn finish_loop(
    rx: Receiver<Msg>,
    held: Arc<AtomicUsize>,
    queued: Arc<AtomicUsize>,
    asleep: Arc<AtomicBool>,
) {
    let mut idle = 0;
    loop {
        let mut ran = false;
        loop {
            match rx.try_recv() {
                Ok(msg) => {
                    queued.fetch_sub(1, Ordering::Relaxed);
                    ran = true;
                    match msg {
                        // A job contains its codec panics; a panic elsewhere (a user's
                        // subscriber) must not stop the jobs after it.
                        Msg::Run(job, bytes) => {
                            let _ = catch_unwind(AssertUnwindSafe(job));
                            held.fetch_sub(bytes, Ordering::Relaxed);
                        }
                        Msg::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        idle = if ran { 0 } else { idle + 1 };
        if idle < IDLE_TICKS {
            std::thread::park_timeout(TICK);
            continue;
        }
        asleep.store(true, Ordering::SeqCst);
        // A job queued before the flag was seen: run it (callers check the flag after
        // queueing, so one of the two sees the other).
        fence(Ordering::SeqCst);
        if queued.load(Ordering::SeqCst) == 0 {
            std::thread::park();
        }
        asleep.store(false, Ordering::SeqCst);
        idle = 0;
    }
}

impl Finisher {
    fn sender(&self) -> Option<&(SyncSender<Msg>, Thread)> {
        self.tx
            .get_or_init(|| {
                let (tx, rx) = sync_channel::<Msg>(CAPACITY);
                let (held, queued, asleep) =
                    (self.held.clone(), self.queued.clone(), self.asleep.clone());
                std::thread::Builder::new()
                    .name("humanloop-finisher".into())
                    .spawn(move || finish_loop(rx, held, queued, asleep))
                    .ok()
                    .map(|handle| (tx, handle.thread().clone()))
            })
            .as_ref()
    }

    /// Queue `msg`; wake the finisher if it sleeps or much is queued.
    fn send(&self, tx: &SyncSender<Msg>, thread: &Thread, msg: Msg) -> Result<(), Msg> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        if let Err(TrySendError::Full(msg) | TrySendError::Disconnected(msg)) = tx.try_send(msg) {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            thread.unpark();
            return Err(msg);
        }
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::SeqCst)
            || self.queued.load(Ordering::Relaxed) > WAKE_JOBS
            || self.held.load(Ordering::Relaxed) > WAKE_BYTES
        {
            thread.unpark();
        }
        Ok(())
    }

    /// Run `job`, which holds `bytes` of buffers, on the finisher's thread, or here when
    /// its queue is full.
    pub(crate) fn run(&self, job: Job, bytes: usize) {
        let Some((tx, thread)) = self.sender() else {
            return job();
        };
        if self.held.fetch_add(bytes, Ordering::Relaxed) + bytes > BYTES {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            thread.unpark();
            return job();
        }
        if let Err(Msg::Run(job, _)) = self.send(tx, thread, Msg::Run(job, bytes)) {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            job();
        }
    }

    /// Wait until every job queued so far has run (at once when none ever was). Blocks
    /// the calling thread, for as long as the queued jobs take (microseconds each).
    pub(crate) fn wait(&self) {
        let Some(Some((tx, thread))) = self.tx.get() else {
            return;
        };
        let (done, wait) = sync_channel(1);
        let mut barrier = Msg::Barrier(done);
        // Full: the finisher was woken and drains; try again in a moment (bounded, in case
        // its thread is gone).
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while let Err(msg) = self.send(tx, thread, barrier) {
            if std::time::Instant::now() > give_up {
                return;
            }
            barrier = msg;
            std::thread::sleep(Duration::from_micros(50));
        }
        thread.unpark();
        let _ = wait.recv();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver as Hold;
    use std::thread::ThreadId;

    /// A job counting its runs in `n`, only those on thread `on` when given.
    fn count(n: &Arc<AtomicUsize>, on: Option<ThreadId>) -> Job {
        let n = n.clone();
        Box::new(move || {
            if on.is_none_or(|t| t == std::thread::current().id()) {
                n.fetch_add(1, Ordering::SeqCst);
            }
        })
    }

    /// A job holding the finisher's thread until `hold` is released.
    fn hold(hold: Hold<()>) -> Job {
        Box::new(move || {
            let _ = hold.recv();
        })
    }

    #[test]
    fn jobs_run_off_the_thread_and_wait_sees_them_all() {
        let finisher = Finisher::default();
        let (ran, here) = (Arc::new(AtomicUsize::new(0)), std::thread::current().id());
        for _ in 0..100 {
            finisher.run(count(&ran, None), 0);
        }
        finisher.wait();
        assert_eq!(ran.load(Ordering::SeqCst), 100);
        let ran_here = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            finisher.run(count(&ran_here, Some(here)), 0);
        }
        finisher.wait();
        assert_eq!(
            ran_here.load(Ordering::SeqCst),
            0,
            "every job ran elsewhere"
        );
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_next() {
        let finisher = Finisher::default();
        finisher.run(Box::new(|| panic!("a subscriber panicked")), 0);
        let ran = Arc::new(AtomicUsize::new(0));
        finisher.run(count(&ran, None), 0);
        finisher.wait();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_full_queue_runs_the_job_here() {
        let finisher = Finisher::default();
        // Hold the thread in a job until every slot is taken.
        let (release, held) = sync_channel::<()>(0);
        finisher.run(hold(held), 0);
        let here = std::thread::current().id();
        let inline = Arc::new(AtomicUsize::new(0));
        for _ in 0..CAPACITY + 10 {
            finisher.run(count(&inline, Some(here)), 0);
        }
        // The held job took one job off the queue: at least ten ran here.
        assert!(inline.load(Ordering::SeqCst) >= 10);
        release.send(()).unwrap();
        finisher.wait();
    }

    #[test]
    fn jobs_past_the_byte_budget_run_here() {
        let finisher = Finisher::default();
        let (release, held) = sync_channel::<()>(0);
        finisher.run(hold(held), BYTES - 10);
        let ran_here = Arc::new(AtomicUsize::new(0));
        finisher.run(count(&ran_here, Some(std::thread::current().id())), 11);
        assert_eq!(ran_here.load(Ordering::SeqCst), 1);
        release.send(()).unwrap();
        finisher.wait();
        assert_eq!(finisher.held.load(Ordering::Relaxed), 0);
    }

    /// Without `wait`: a job runs on the finisher's own look while calls come, and wakes
    /// it once it has gone to sleep.
    #[test]
    fn jobs_run_without_wait_awake_or_asleep() {
        let finisher = Finisher::default();
        let ran = Arc::new(AtomicUsize::new(0));
        let until = |what: &str, done: &dyn Fn() -> bool| {
            let t = std::time::Instant::now();
            while !done() {
                assert!(t.elapsed() < Duration::from_secs(5), "{what}: never");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        finisher.run(count(&ran, None), 0);
        until("first job ran", &|| ran.load(Ordering::SeqCst) == 1);
        // Idle for longer than the finisher looks: it sleeps until woken.
        until("asleep", &|| finisher.asleep.load(Ordering::SeqCst));
        finisher.run(count(&ran, None), 0);
        until("second job ran", &|| ran.load(Ordering::SeqCst) == 2);
    }

    #[test]
    fn wait_without_any_job_returns() {
        Finisher::default().wait();
    }
}
