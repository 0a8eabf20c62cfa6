//! Integration tests: semconv (one file per guarantee).

mod completion;
mod steps;
