//! Integration tests: hierarchy (one file per guarantee).

mod otel;
mod propagation_axum;
mod save;
mod session;
mod steps;
