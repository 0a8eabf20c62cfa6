//! Integration tests: faults (one file per guarantee).

mod endpoint_500;
mod endpoint_restarting;
mod five_minutes_of_503;
mod not_json;
mod one_invalid_record;
mod parent_refused;
mod recovers_after_eight_503;
mod refused;
mod refused_five_minutes;
mod retry_after;
mod stalled;
mod storm_of_429;
mod tls;
