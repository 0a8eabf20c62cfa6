//! Integration tests: semconv (one file per guarantee).

mod completion;
mod completion_profiles;
mod gemini_breakdown_lenient;
mod openai_extras;
mod readme_table;
mod steps;
