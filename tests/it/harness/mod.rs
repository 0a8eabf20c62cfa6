//! The one test harness: every fake server, fixture and adapter the tests share.
//!
//! * [`fixtures`]: the files under `tests/fixtures/` and their server-sent events.
//! * [`provider`]: the fake LLM provider (fixture bytes chosen per request).
//! * [`endpoint`]: the fake log endpoint (records, scripts failures and stalls), and a
//!   `Humanloop` pointed at it.
//! * [`adapters`]: calls through the reqwest middleware and the tower layer; one-off
//!   servers whose answer bytes the test controls.
//! * [`raw`]: a hand-written HTTP/1.1 server for the endpoint client (split writes, cut
//!   transfers).
//! * [`otel`]: an in-memory OpenTelemetry pipeline and readers of its spans and metrics.
//! * [`server`]: the crate's own endpoint in-process, its API and its pages.
//! * [`codec`], [`faults`]: helpers of those areas' tests.
//!
//! No test installs a process-wide rustls provider: reqwest brings its own, the endpoint
//! and the proxy pass theirs explicitly, and the TLS test server builds with ring.

#![allow(dead_code)] // each test binary uses a part

pub mod adapters;
pub mod codec;
pub mod endpoint;
pub mod faults;
pub mod fixtures;
pub mod otel;
pub mod provider;
pub mod raw;
pub mod server;

thread_local! {
    /// The handles the harness made on this thread (tests run one per thread).
    static HANDLES: std::cell::RefCell<Vec<humanloop_tracing::Humanloop>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `hl`, remembered so that reading spans first waits for its finished calls
/// ([`Humanloop::flush_spans`](humanloop_tracing::Humanloop::flush_spans)).
pub fn track(hl: humanloop_tracing::Humanloop) -> humanloop_tracing::Humanloop {
    HANDLES.with(|h| h.borrow_mut().push(hl.clone()));
    hl
}

/// Wait until the calls finished so far through any handle of this thread are completed.
pub fn flush_spans() {
    HANDLES.with(|h| h.borrow().iter().for_each(|hl| hl.flush_spans()));
}
