//! Decoders are fed on the caller's path: after the first event of a stream, an event
//! costs no allocation beyond growing the output buffers. Counted with a global
//! allocator (per thread, so the test harness does not interfere).

#[path = "it/harness/mod.rs"]
mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use humanloop_tracing::provider::{
    AnthropicMessages, Codec, Gemini, LlmRequest, OpenAiChat, OpenAiResponses, Operation,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

const EVENTS: usize = 2000;

/// Feeds `first`, then `EVENTS` copies of `delta`, and returns the allocations the
/// copies cost. Each delta carries escapes (`\n`, `\"`, `\u00e9`), so a decoder that
/// owned its strings would allocate per event.
fn count(codec: &dyn Codec, first: &[u8], delta: &[u8]) -> usize {
    let mut d = codec.response_decoder(&LlmRequest::empty(Operation::Chat));
    d.on_event(None, first);
    let before = allocs();
    for _ in 0..EVENTS {
        d.on_event(None, delta);
    }
    let n = allocs() - before;
    drop(d.finish());
    n
}

#[test]
fn stream_events_do_not_allocate() {
    let cases: [(&dyn Codec, &[u8], &[u8]); 6] = [
        (
            &OpenAiChat,
            br#"{"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            br#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"line\n \"q\" caf\u00e9"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
        ),
        (
            &OpenAiChat,
            br#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            br#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"k\": \"v\\n\"}"}}]},"finish_reason":null}]}"#,
        ),
        (
            &AnthropicMessages,
            br#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"line\n \"q\" caf\u00e9"}}"#,
        ),
        (
            &AnthropicMessages,
            br#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}"#,
            br#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San"}}"#,
        ),
        (
            &Gemini,
            br#"{"candidates":[{"content":{"parts":[{"text":"a"}],"role":"model"},"index":0}],"modelVersion":"gemini-2.0-flash","responseId":"r1"}"#,
            br#"{"candidates":[{"content":{"parts":[{"text":"line\n \"q\" caf\u00e9"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.0-flash","responseId":"r1"}"#,
        ),
        (
            &OpenAiResponses,
            br#"{"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","role":"assistant","content":[]}}"#,
            br#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"line\n \"q\" caf\u00e9","sequence_number":5}"#,
        ),
    ];
    for (i, (codec, first, delta)) in cases.into_iter().enumerate() {
        let n = count(codec, first, delta);
        // Only the output buffer's doubling: a few dozen at most for 2000 events.
        assert!(
            n <= 40,
            "case {i} ({}): {n} allocations for {EVENTS} events",
            codec.id()
        );
    }
}
