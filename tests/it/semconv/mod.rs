//! Integration tests: semconv (one file per guarantee).

mod completion;
mod openai_extras;
mod readme_table;
mod steps;
