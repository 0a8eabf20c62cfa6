//! The two adapters: a [`tower_layer::Layer`] for any `http` client service and a
//! `reqwest_middleware::Middleware`. Both are thin glue over one capture core
//! (`capture`, private); neither has logic of its own.
//!
//! ```no_run
//! # #[cfg(all(feature = "tower", feature = "reqwest"))]
//! # fn demo(hl: humanloop_tracing::Humanloop) {
//! // reqwest
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(hl.middleware())
//!     .build();
//! // tower (hyper-util's legacy client, or anything in a ServiceBuilder)
//! # let hyper_client = tower::service_fn(|_: http::Request<http_body_util::Full<bytes::Bytes>>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! # });
//! let svc = tower::ServiceBuilder::new().layer(hl.layer()).service(hyper_client);
//! # }
//! ```
//!
//! Where the layer sits matters when other layers change bodies: put `hl.layer()` before
//! (outside) a decompression layer in a `ServiceBuilder`, so that it sees the decoded
//! response; a body that is still `Content-Encoding`-encoded when it reaches the layer is
//! passed through without being decoded (the call is traced without response details).
//!
//! Requests that are not LLM calls, and every request while the configuration is
//! disabled, pass straight through: no span, no allocation, the response body wrapped in
//! a [`TeeBody`](crate::TeeBody) with nothing to watch.

#[cfg(feature = "reqwest")]
mod reqwest;
#[cfg(feature = "tower")]
mod tower;

#[cfg(feature = "reqwest")]
pub use self::reqwest::HumanloopMiddleware;
#[cfg(feature = "tower")]
pub use self::tower::{HumanloopLayer, HumanloopService, ResponseFuture};
