//! Integration tests: streaming (one file per guarantee).

mod cancel;
mod end_marker;
mod first_chunk;
