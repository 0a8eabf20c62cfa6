//! [`Finisher`]: the thread where finished calls are completed, off the caller's path.
//!
//! When a call finishes, the caller's thread only notes the time and ends the span's
//! timing (one more enter and exit, so the span's end time is the finish); decoding the
//! response, recording the response attributes and metrics, handing the log to the
//! exporter and closing the span (which is when an OpenTelemetry layer exports it) are one
//! job for this thread. Jobs take microseconds and never wait on the network, so a span
//! reaches the subscriber moments after its call finished;
//! [`Humanloop::flush_spans`](crate::Humanloop::flush_spans) waits for that.
//!
//! The queue is bounded. When it is full, or the thread cannot be started, the job runs
//! on the caller's thread as before: nothing is dropped and nothing waits.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

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
    tx: OnceLock<Option<SyncSender<Msg>>>,
    /// Bytes held by the jobs in the queue.
    held: Arc<AtomicUsize>,
}

impl Finisher {
    fn sender(&self) -> Option<&SyncSender<Msg>> {
        self.tx
            .get_or_init(|| {
                let (tx, rx) = sync_channel::<Msg>(CAPACITY);
                let held = self.held.clone();
                std::thread::Builder::new()
                    .name("humanloop-finisher".into())
                    .spawn(move || {
                        while let Ok(msg) = rx.recv() {
                            match msg {
                                // A job contains its codec panics; a panic elsewhere (a
                                // user's subscriber) must not stop the jobs after it.
                                Msg::Run(job, bytes) => {
                                    let _ = catch_unwind(AssertUnwindSafe(job));
                                    held.fetch_sub(bytes, Ordering::Relaxed);
                                }
                                Msg::Barrier(done) => {
                                    let _ = done.send(());
                                }
                            }
                        }
                    })
                    .ok()
                    .map(|_| tx)
            })
            .as_ref()
    }

    /// Run `job`, which holds `bytes` of buffers, on the finisher's thread, or here when
    /// its queue is full.
    pub(crate) fn run(&self, job: Job, bytes: usize) {
        let Some(tx) = self.sender() else {
            return job();
        };
        if self.held.fetch_add(bytes, Ordering::Relaxed) + bytes > BYTES {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            return job();
        }
        if let Err(TrySendError::Full(msg) | TrySendError::Disconnected(msg)) =
            tx.try_send(Msg::Run(job, bytes))
        {
            self.held.fetch_sub(bytes, Ordering::Relaxed);
            if let Msg::Run(job, _) = msg {
                job();
            }
        }
    }

    /// Wait until every job queued so far has run (at once when none ever was). Blocks
    /// the calling thread, for as long as the queued jobs take (microseconds each).
    pub(crate) fn wait(&self) {
        let Some(Some(tx)) = self.tx.get() else {
            return;
        };
        let (done, wait) = sync_channel(1);
        if tx.send(Msg::Barrier(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn jobs_run_off_the_thread_and_wait_sees_them_all() {
        let finisher = Finisher::default();
        let ran = Arc::new(AtomicUsize::new(0));
        let here = std::thread::current().id();
        let elsewhere = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let (ran, elsewhere) = (ran.clone(), elsewhere.clone());
            finisher.run(
                Box::new(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    if std::thread::current().id() != here {
                        elsewhere.fetch_add(1, Ordering::SeqCst);
                    }
                }),
                0,
            );
        }
        finisher.wait();
        assert_eq!(ran.load(Ordering::SeqCst), 100);
        assert_eq!(elsewhere.load(Ordering::SeqCst), 100);
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_next() {
        let finisher = Finisher::default();
        finisher.run(Box::new(|| panic!("a subscriber panicked")), 0);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        finisher.run(
            Box::new(move || {
                r.fetch_add(1, Ordering::SeqCst);
            }),
            0,
        );
        finisher.wait();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_full_queue_runs_the_job_here() {
        let finisher = Finisher::default();
        // Hold the thread in a job until every slot is taken.
        let (release, hold) = sync_channel::<()>(0);
        finisher.run(
            Box::new(move || {
                let _ = hold.recv();
            }),
            0,
        );
        let here = std::thread::current().id();
        let inline = Arc::new(AtomicUsize::new(0));
        for _ in 0..CAPACITY + 10 {
            let inline = inline.clone();
            finisher.run(
                Box::new(move || {
                    if std::thread::current().id() == here {
                        inline.fetch_add(1, Ordering::SeqCst);
                    }
                }),
                0,
            );
        }
        // The held job took one job off the queue: at least ten ran here.
        assert!(inline.load(Ordering::SeqCst) >= 10);
        release.send(()).unwrap();
        finisher.wait();
    }

    #[test]
    fn jobs_past_the_byte_budget_run_here() {
        let finisher = Finisher::default();
        let (release, hold) = sync_channel::<()>(0);
        finisher.run(
            Box::new(move || {
                let _ = hold.recv();
            }),
            BYTES - 10,
        );
        let here = std::thread::current().id();
        let ran_here = Arc::new(AtomicUsize::new(0));
        let r = ran_here.clone();
        finisher.run(
            Box::new(move || {
                if std::thread::current().id() == here {
                    r.fetch_add(1, Ordering::SeqCst);
                }
            }),
            11,
        );
        assert_eq!(ran_here.load(Ordering::SeqCst), 1);
        release.send(()).unwrap();
        finisher.wait();
        assert_eq!(finisher.held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn wait_without_any_job_returns() {
        Finisher::default().wait();
    }
}
