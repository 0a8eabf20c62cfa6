//! Integration tests: export (one file per guarantee).

mod batching;
mod bounded;
mod lifecycle;
mod retry;
mod wakeups;
