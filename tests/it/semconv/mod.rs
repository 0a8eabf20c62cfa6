//! Integration tests: semconv (one file per guarantee).

mod completion;
mod openai_extras;
mod steps;
