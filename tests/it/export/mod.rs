//! Integration tests: export (one file per guarantee).

mod batching;
mod both_sinks_speak_one_protocol;
mod bounded;
mod https_without_tls_fails_every_record;
mod lifecycle;
mod retry;
mod two_in_flight;
mod wakeups;
