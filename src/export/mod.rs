//! The background log exporter. (Stub: the export work fills it in.)

use std::time::Duration;

use crate::api::{LogRequest, UpdateLogRequest};
use crate::client::Client;
use crate::config::Config;

/// One unit of work for the exporter.
pub(crate) enum ExportRecord {
    /// Create a datapoint (a step when it opens).
    Create(Box<LogRequest>),
    /// Create a datapoint whose log is built on the exporter's thread, off the caller's
    /// path (a finished LLM call). `None` drops it (e.g. an `on_log` hook said so).
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
    /// Records waiting to be sent.
    pub queued: u64,
    /// Records the endpoint acknowledged.
    pub sent: u64,
    /// Retried requests.
    pub retried: u64,
    /// Records dropped because the queue was full (or the spool).
    pub dropped: u64,
    /// Records the endpoint rejected for good, or that ran out of retries.
    pub failed: u64,
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

/// The background exporter: bounded queue, batching, causal order, retries.
#[derive(Clone, Debug)]
pub struct LogExporter {
    _private: (),
}

impl LogExporter {
    pub(crate) fn start(config: &Config, client: Client) -> LogExporter {
        let _ = (config, client);
        LogExporter { _private: () }
    }

    /// Hand a record over without blocking; `false` if it was dropped (queue full).
    pub(crate) fn submit(&self, record: ExportRecord) -> bool {
        drop(record);
        true
    }

    /// Counters.
    pub fn stats(&self) -> ExportStats {
        ExportStats::default()
    }

    /// Deliver everything queued, or say how much was not delivered by `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ExportError> {
        let _ = timeout;
        Ok(())
    }

    /// Flush, then stop the worker.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        self.flush(timeout).await
    }
}
