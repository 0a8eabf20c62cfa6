//! Integration tests: otel (one file per guarantee).

mod layer_noise;
mod otlp_export;
