//! Integration tests: capture (one file per guarantee).

mod bad_input;
mod content;
mod fixtures;
mod log_timings;
mod logs;
mod where_decoded;
