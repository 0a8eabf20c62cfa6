//! The endpoint client as a [`LogSink`]: `POST /logs` with an array, `PATCH
//! /logs?reference_id=`, each error classified into outage, credentials or refusal.

use crate::api::{LogRequest, UpdateLogRequest};
use crate::client::Client;
use crate::config::{Config, RetryPolicy};
use crate::error::Error;

use super::sink::{LogSink, SinkError};

/// The Humanloop-style endpoint as a sink: what [`Humanloop`](crate::Humanloop) exports to
/// unless told otherwise. One attempt per call (the exporter retries).
///
/// Classification: 401 and 403 are [`SinkError::Unauthorized`]; 400, 404, 413 and 422 are
/// [`SinkError::Refused`] (a 422 naming items of the array, `loc: ["body", i, …]`, refuses
/// only those); every other answer or failure (5xx, 429, 408, other 4xx, connection refused
/// or reset, timeouts, TLS errors, a 2xx that is not the expected JSON) is
/// [`SinkError::Unavailable`], with `Retry-After` when the endpoint sent one. A record that
/// cannot be encoded as JSON is refused.
#[derive(Clone, Debug)]
pub struct EndpointSink {
    client: Client,
}

impl EndpointSink {
    /// A sink over `client` (its retry policy is set aside: the exporter retries). Give it a
    /// client of its own, so that its connections live on the exporter's runtime.
    pub fn new(client: Client) -> EndpointSink {
        EndpointSink {
            client: client.with_retry_policy(RetryPolicy::none()),
        }
    }

    /// A sink with a client of its own built from `config` (base URL, key, timeouts).
    pub fn from_config(config: &Config) -> Result<EndpointSink, Error> {
        Ok(Self::new(Client::from_config(config)?))
    }
}

impl LogSink for EndpointSink {
    async fn create(&self, logs: &[LogRequest]) -> Result<(), SinkError> {
        self.client
            .log_batch(logs)
            .await
            .map(drop)
            .map_err(|e| classify(&e, logs.len()))
    }

    async fn update(&self, reference_id: &str, update: &UpdateLogRequest) -> Result<(), SinkError> {
        self.client
            .update_log_by_reference(reference_id, update)
            .await
            .map(drop)
            .map_err(|e| classify(&e, 1))
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
        _ => SinkError::Unavailable {
            reason,
            retry_after: None,
        },
    }
}
