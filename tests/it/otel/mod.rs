//! Integration tests: otel (one file per guarantee).

mod otlp_export;
