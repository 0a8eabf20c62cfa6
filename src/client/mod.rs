//! The typed client of the Humanloop-style endpoint (the contract: `docs/endpoint.md`).
//!
//! [`Client`] (feature `transport`: it is built on reqwest) makes completion calls with a
//! saved model configuration (whole or streamed),
//! records logs (one or a batch), completes them later (`PATCH`), and creates sessions.
//! It is a plain `reqwest` client, never instrumented, so the crate's own layers never
//! trace it. Every request carries `X-API-KEY` and a JSON body that omits unset fields.
//! It knows neither spans nor the exporter: [`Humanloop::client`](crate::Humanloop::client)
//! wraps it in a [`TracedClient`](crate::TracedClient) whose completion calls are traced and
//! filed under the caller's session and step.
//!
//! The protocol it speaks (routes, headers, JSON bodies, error answers) is shared with the
//! exporter's plain-HTTP [`HttpSink`](crate::export::HttpSink), which every build has.
//!
//! Failures are [`Error`](crate::Error)s. Requests that fail with 408, 429, 5xx or a connection error are
//! retried with exponential backoff and full jitter, honouring `Retry-After`, within the
//! [`RetryPolicy`](crate::config::RetryPolicy)'s attempts and time budget; a stream is retried only until its head
//! arrives, never once chunks have been handed out.
//!
//! ```
//! use humanloop_tracing::api::{CompletionModelConfigRequest, LogRequest};
//! use humanloop_tracing::Client;
//! use wiremock::matchers::{header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A stand-in endpoint on 127.0.0.1.
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/v4/completion-model-config"))
//!     .and(header("x-api-key", "hl-test"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
//!         "data": [{"id": "data_1", "index": 0, "output": "Hello!", "finish_reason": "stop"}],
//!         "provider_responses": [],
//!     })))
//!     .mount(&server)
//!     .await;
//!
//! let client = Client::builder()
//!     .base_url(format!("{}/v4", server.uri()))
//!     .api_key("hl-test")
//!     .build()?;
//! let answer = client
//!     .completion_model_config(&CompletionModelConfigRequest::new("config_123"))
//!     .await?;
//! assert_eq!(answer.data[0].output.as_deref(), Some("Hello!"));
//! # Ok(()) }
//! ```
//!
//! Streaming, with the samples put back together:
//!
//! ```no_run
//! # async fn demo(client: humanloop_tracing::Client) -> Result<(), humanloop_tracing::Error> {
//! use humanloop_tracing::api::CompletionModelConfigRequest;
//!
//! let req = CompletionModelConfigRequest::new("config_123").with_num_samples(2u32);
//! let samples = client.completion_model_config_stream(&req).await?.collect_samples().await?;
//! for s in samples {
//!     println!("#{}: {} ({:?})", s.index, s.output, s.finish_reason);
//! }
//! # Ok(()) }
//! ```

#[cfg(feature = "transport")]
mod builder;
pub(crate) mod endpoint;
#[cfg(feature = "transport")]
mod reqwest_client;
pub(crate) mod retry;
#[cfg(feature = "transport")]
mod stream;
#[cfg(feature = "transport")]
mod v4;

#[cfg(feature = "transport")]
pub use builder::ClientBuilder;
#[cfg(any(feature = "proxy", feature = "server"))]
pub(crate) use builder::{tls_config, TlsUse};
#[cfg(feature = "transport")]
use endpoint::to_body;
#[cfg(feature = "transport")]
pub use reqwest_client::Client;
#[cfg(feature = "transport")]
use reqwest_client::ClientInner;
#[cfg(feature = "transport")]
pub(crate) use stream::StreamObserver;
#[cfg(feature = "transport")]
pub use stream::{CompletionStream, Sample, SampleCollector};
