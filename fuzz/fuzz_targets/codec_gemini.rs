//! `Gemini`: request, error, JSON body and SSE event decoding never panic.
#![no_main]

#[path = "codec_common.rs"]
mod codec_common;

use humanloop_tracing::provider::Gemini;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    codec_common::run(&Gemini, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", data);
});
