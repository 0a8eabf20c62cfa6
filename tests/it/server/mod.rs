//! Integration tests: server (one file per guarantee).

mod anthropic;
mod bad_input;
mod cli;
mod cli_refuses_open_unauthenticated;
mod completion;
mod durability;
mod large_batches_keep_row_semantics;
mod lifecycle;
mod load;
mod log_storage;
mod logs;
mod openai;
mod sdk_compat;
mod streaming;
mod v4_routes;
mod validation;
