//! Integration tests: semconv (one file per guarantee).

mod completion;
mod completion_profiles;
mod openai_extras;
mod readme_table;
mod steps;
