//! `OpenAiResponses`: request, error, JSON body and SSE event decoding never panic.
#![no_main]

#[path = "codec_common.rs"]
mod codec_common;

use humanloop_tracing::provider::OpenAiResponses;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    codec_common::run(
        &OpenAiResponses,
        "https://api.openai.com/v1/responses",
        data,
    );
});
