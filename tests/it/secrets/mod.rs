//! Integration tests: secrets (one file per guarantee).

mod capture;
