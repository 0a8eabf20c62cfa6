//! Integration tests: api (one file per guarantee).

mod roundtrip;
