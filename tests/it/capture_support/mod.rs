//! The import path `tests/semconv_*.rs` still use (another branch's files; `tests/it` has
//! the same module inline in `main.rs`): the harness, and the old name of its recording endpoint. To remove
//! once they import the harness.

#[path = "../harness/mod.rs"]
mod harness;

#[allow(unused_imports)] // each user takes a part
pub use harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};

/// The harness's recording endpoint, under its old name.
pub async fn log_sink() -> Recorder {
    Recorder::start().await
}
