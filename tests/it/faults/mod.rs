//! Integration tests: faults (one file per guarantee).

mod endpoint_500;
mod not_json;
mod refused;
mod retry_after;
mod stalled;
mod tls;
