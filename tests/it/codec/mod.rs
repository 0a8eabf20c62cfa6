//! Integration tests: codec (one file per guarantee).

mod anthropic;
mod compat;
mod detect;
mod gemini;
mod head;
mod openai;
mod robustness;
