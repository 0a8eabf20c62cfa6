//! Integration tests: server (one file per guarantee).

mod anthropic;
mod bad_input;
mod cli;
mod completion;
mod durability;
mod lifecycle;
mod load;
mod log_storage;
mod logs;
mod openai;
mod streaming;
mod validation;
