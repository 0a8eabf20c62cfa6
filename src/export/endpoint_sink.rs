//! The reqwest endpoint client as a [`LogSink`] (feature `transport`): `POST /logs` with an
//! array, `PATCH /logs?reference_id=`, each error classified (`sink::classify`, shared with
//! the plain-HTTP [`HttpSink`](super::HttpSink)) into outage, credentials or refusal.

use crate::api::{LogRequest, UpdateLogRequest};
use crate::client::Client;
use crate::config::{Config, RetryPolicy};
use crate::error::Error;

use super::sink::{classify, LogSink, SinkError};

/// The Humanloop-style endpoint as a sink, over the reqwest [`Client`] (feature `transport`,
/// HTTPS with a TLS feature): what [`Humanloop`](crate::Humanloop) exports to unless told
/// otherwise in builds with `transport`. One attempt per call (the exporter retries).
///
/// Classification (the same for [`HttpSink`](super::HttpSink)): 401 and 403 are [`SinkError::Unauthorized`]; 400, 404, 413 and 422 are
/// [`SinkError::Refused`] (a 422 naming items of the array, `loc: ["body", i, …]`, refuses
/// only those); every other answer or failure (5xx, 429, 408, other 4xx, connection refused
/// or reset, timeouts, TLS errors, a 2xx that is not the expected JSON) is
/// [`SinkError::Unavailable`], with `Retry-After` when the endpoint sent one. A record that
/// cannot be encoded as JSON is refused, and so is every record for an https endpoint in a build
/// without TLS (the error names the features that add it).
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
