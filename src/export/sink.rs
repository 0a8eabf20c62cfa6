//! Where the exporter delivers records: the [`LogSink`] trait (as OpenTelemetry's
//! `BatchSpanProcessor` delivers to a `SpanExporter`), and [`MemorySink`], a sink that keeps
//! what it receives in memory, for tests and for programs that want the logs themselves.
//!
//! A sink makes one attempt per call and says how it failed; the exporter owns batching,
//! causal order, retries and backoff, the spool and the counters.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::api::{LogRequest, UpdateLogRequest};
use crate::error::Error;

/// Why a sink did not take a request. The exporter acts on the kind:
///
/// * [`Unavailable`](SinkError::Unavailable): an outage (503, 502, 429, connection refused or
///   reset, timeouts, TLS errors). Every record is kept and the exporter probes the sink, one
///   request at a time, with exponential backoff (honouring `retry_after`) until it answers.
/// * [`Unauthorized`](SinkError::Unauthorized): the credentials are refused (401, 403). Records
///   are kept (a fixed key, after a restart with the spool, still delivers them); reported once,
///   as an error.
/// * [`Refused`](SinkError::Refused): a permanent refusal (400, 404, 413, 422). Only the
///   records named in `records` fail; when the sink cannot tell which (`None`), the exporter
///   splits the request in halves to find them and delivers the others.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The sink is unavailable for now; try again later.
    #[error("the endpoint is unavailable: {reason}")]
    Unavailable {
        /// For people.
        reason: String,
        /// How long the sink asked to be left alone (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The sink refuses the credentials.
    #[error("the endpoint refused the API key: {reason}")]
    Unauthorized {
        /// For people.
        reason: String,
    },
    /// The sink refused records for good.
    #[error("the endpoint refused the records: {reason}")]
    Refused {
        /// For people.
        reason: String,
        /// Indices (in the request) of the refused records, when known.
        records: Option<Vec<usize>>,
    },
}

impl SinkError {
    /// An outage, with the wait the sink asked for, if any.
    pub fn unavailable(reason: impl Into<String>, retry_after: Option<Duration>) -> Self {
        SinkError::Unavailable {
            reason: reason.into(),
            retry_after,
        }
    }

    /// A permanent refusal of the whole request (the exporter bisects a batch to find the
    /// records at fault).
    pub fn refused(reason: impl Into<String>) -> Self {
        SinkError::Refused {
            reason: reason.into(),
            records: None,
        }
    }

    /// The reason, for people.
    pub fn reason(&self) -> &str {
        match self {
            SinkError::Unavailable { reason, .. }
            | SinkError::Unauthorized { reason }
            | SinkError::Refused { reason, .. } => reason,
        }
    }
}

/// The destination of exported records. The endpoint's two transports implement it
/// ([`EndpointSink`](super::EndpointSink) over reqwest, feature `transport`;
/// [`HttpSink`](super::HttpSink), plain HTTP over hyper-util, every build); so does
/// [`MemorySink`].
///
/// Implement it with `async fn`s; the futures must be `Send` (they run on the exporter's
/// runtime). Each call is one attempt: do not retry inside, return the kind of failure.
///
/// ```
/// use humanloop_tracing::api::{LogRequest, UpdateLogRequest};
/// use humanloop_tracing::export::{LogSink, SinkError};
///
/// /// Prints each record's reference id.
/// struct Print;
///
/// impl LogSink for Print {
///     async fn create(&self, logs: &[LogRequest]) -> Result<(), SinkError> {
///         for log in logs {
///             println!("log {:?}", log.reference_id);
///         }
///         Ok(())
///     }
///     async fn update(&self, reference_id: &str, _: &UpdateLogRequest) -> Result<(), SinkError> {
///         println!("update {reference_id}");
///         Ok(())
///     }
/// }
/// ```
pub trait LogSink: Send + Sync + 'static {
    /// Create these datapoints (`POST /logs` with an array). None of them names another
    /// in the same call as its parent.
    fn create(&self, logs: &[LogRequest]) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Complete the datapoint created with `reference_id` (`PATCH /logs?reference_id=`).
    fn update(
        &self,
        reference_id: &str,
        update: &UpdateLogRequest,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`LogSink`] made object-safe, so that the worker is not generic.
pub(crate) trait DynSink: Send + Sync {
    fn create<'a>(&'a self, logs: &'a [LogRequest]) -> BoxFuture<'a, Result<(), SinkError>>;
    fn update<'a>(
        &'a self,
        reference_id: &'a str,
        update: &'a UpdateLogRequest,
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}

impl<S: LogSink> DynSink for S {
    fn create<'a>(&'a self, logs: &'a [LogRequest]) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(LogSink::create(self, logs))
    }
    fn update<'a>(
        &'a self,
        reference_id: &'a str,
        update: &'a UpdateLogRequest,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(LogSink::update(self, reference_id, update))
    }
}

/// A sink that keeps every record it receives, in order: for tests, and for programs that
/// want the logs in process. Clones share the same store. It can be told to fail the next
/// calls ([`fail_next`](Self::fail_next)) to rehearse outages.
///
/// ```
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use humanloop_tracing::api::LogRequest;
/// use humanloop_tracing::export::{LogExporter, MemorySink};
/// use humanloop_tracing::{Config, Humanloop};
///
/// let sink = MemorySink::default();
/// let hl = Humanloop::with_exporter(Config::default(), LogExporter::builder().sink(sink.clone()))?;
/// hl.log(LogRequest::default().with_reference_id("r1"));
/// hl.shutdown_blocking(Duration::from_secs(5))?;
/// assert_eq!(sink.logs()[0].reference_id.as_deref(), Some("r1"));
/// # Ok(()) }
/// # demo().unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemorySink {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Default)]
struct MemoryInner {
    logs: Vec<LogRequest>,
    updates: Vec<(String, UpdateLogRequest)>,
    calls: u64,
    failures: std::collections::VecDeque<SinkError>,
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemorySink")
            .field("logs", &inner.logs.len())
            .field("updates", &inner.updates.len())
            .finish()
    }
}

impl MemorySink {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The datapoints created, in the order they arrived.
    pub fn logs(&self) -> Vec<LogRequest> {
        self.lock().logs.clone()
    }

    /// The updates, `(reference_id, update)`, in the order they arrived.
    pub fn updates(&self) -> Vec<(String, UpdateLogRequest)> {
        self.lock().updates.clone()
    }

    /// Calls made to the sink, failed ones included.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// Answer the next calls with these errors, in order (then succeed again).
    pub fn fail_next(&self, errors: impl IntoIterator<Item = SinkError>) {
        self.lock().failures.extend(errors);
    }

    fn take_failure(&self) -> Option<SinkError> {
        let mut inner = self.lock();
        inner.calls += 1;
        inner.failures.pop_front()
    }
}

impl LogSink for MemorySink {
    async fn create(&self, logs: &[LogRequest]) -> Result<(), SinkError> {
        if let Some(error) = self.take_failure() {
            return Err(error);
        }
        // As an endpoint would read them (a captured call's bodies are kept as text).
        let logs = logs.iter().cloned().map(LogRequest::with_raw_bodies_read);
        self.lock().logs.extend(logs);
        Ok(())
    }

    async fn update(&self, reference_id: &str, update: &UpdateLogRequest) -> Result<(), SinkError> {
        if let Some(error) = self.take_failure() {
            return Err(error);
        }
        self.lock()
            .updates
            .push((reference_id.to_owned(), update.clone()));
        Ok(())
    }
}

/// What the exporter should do about `error`, for a request of `n` records.
pub(crate) fn classify(error: &Error, n: usize) -> SinkError {
    let reason = error.to_string();
    match error {
        Error::Api(api) => match api.status.as_u16() {
            401 | 403 => SinkError::Unauthorized { reason },
            400 | 404 | 413 | 422 => {
                let mut records: Vec<usize> = api
                    .validation
                    .iter()
                    .filter_map(|v| match v.loc.as_slice() {
                        [body, index, ..] if *body == "body" => index.as_u64(),
                        _ => None,
                    })
                    .filter_map(|i| usize::try_from(i).ok())
                    .filter(|&i| i < n)
                    .collect();
                records.sort_unstable();
                records.dedup();
                SinkError::Refused {
                    reason,
                    records: (!records.is_empty()).then_some(records),
                }
            }
            _ => SinkError::Unavailable {
                reason,
                retry_after: error.retry_after(),
            },
        },
        Error::Encode(_) => SinkError::Refused {
            reason,
            records: None,
        },
        // The transport cannot send at all (an https endpoint in a build without TLS):
        // every record of the request fails, no retry can help.
        Error::Setup { .. } => SinkError::Refused {
            reason,
            records: Some((0..n).collect()),
        },
        _ => SinkError::Unavailable {
            reason,
            retry_after: None,
        },
    }
}
