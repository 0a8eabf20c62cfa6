//! Integration tests: capture (one file per guarantee).

mod bad_input;
mod content;
mod fixtures;
mod logs;
mod where_decoded;
