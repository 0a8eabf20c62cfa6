//! [`Recorder`]: the narrow handle capture works with, the configuration it reads and
//! the exporter it hands finished calls to. The adapters hold one each; it never reaches
//! back into the root `Humanloop`.

use std::sync::Arc;

use super::finisher::{Finisher, Job};
use crate::config::Config;
use crate::export::{ExportRecord, LogExporter};

/// What capture needs to record a call. Cheap to clone.
///
/// It holds an owning exporter handle: a layer keeps the exporter alive (and its
/// missing-shutdown warning armed) as long as the layer lives, as the root handle does.
#[derive(Clone)]
pub(crate) struct Recorder {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    exporter: LogExporter,
    finisher: Finisher,
}

impl Recorder {
    /// A recorder reading `config` and submitting to `exporter`.
    pub(crate) fn new(config: Config, exporter: LogExporter) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                exporter,
                finisher: Finisher::default(),
            }),
        }
    }

    /// The configuration in use.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Hand a record to the exporter without blocking; `false` if it was dropped.
    pub(crate) fn submit(&self, record: ExportRecord) -> bool {
        self.inner.exporter.submit(record)
    }

    /// Complete a finished call on the finisher's thread (see [`Finisher`]).
    pub(crate) fn finish_later(&self, job: Job, bytes: usize) {
        self.inner.finisher.run(job, bytes);
    }

    /// Wait until every call finished so far is completed: its span closed, its log
    /// handed to the exporter.
    pub(crate) fn wait_finished(&self) {
        self.inner.finisher.wait();
    }
}
