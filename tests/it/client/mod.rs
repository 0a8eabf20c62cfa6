//! Integration tests: client (one file per guarantee).

mod api_error;
mod completion;
mod debug_redacts_key;
mod hierarchy;
mod logs;
mod plain_client_traces_nothing;
mod request_timeout;
mod retry_5xx;
mod retry_after;
mod stream_early_close;
mod stream_interleaved;
mod stream_retry;
mod stream_whole_answer;
mod validation_error;
