//! Shared driver for the codec targets: every entry point of one codec over the input.
//!
//! Input layout: `request \0 response`; without a NUL byte the whole input is used as both.
//! The response part is fed as one JSON body, as one error body, and split into SSE
//! events (`event:` / `data:` lines, blocks separated by a blank line).

use http::{HeaderMap, Method, Uri};
use humanloop_tracing::provider::{Codec, LlmRequest, RequestHead};

pub fn run(codec: &dyn Codec, uri: &'static str, data: &[u8]) {
    let uri = Uri::from_static(uri);
    let method = Method::POST;
    let headers = HeaderMap::new();
    let head = RequestHead {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    let (request, response) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };

    let req = codec.decode_request(&head, request);
    // The head decode (the caller's path) is the full decode minus the content, whenever
    // the full decode could read the body (it may read more when only skipped content is
    // malformed).
    let start = codec.decode_request_head(&head, request);
    let strip = |r: &LlmRequest| {
        let mut r = r.clone();
        r.system.clear();
        r.messages.clear();
        r.tools.clear();
        r
    };
    if strip(&req) != strip(&codec.decode_request(&head, b"{}")) {
        assert_eq!(strip(&start), strip(&req));
    }
    let _ = codec.decode_error(response);

    let mut dec = codec.response_decoder(&req);
    dec.on_body(response);
    let full = dec.finish();
    // The head decode (the caller's path) is the full decode minus the output parts,
    // whenever the full decode could read the body (the head may read more when only
    // skipped content is malformed).
    let mut dec = codec.response_decoder(&req);
    dec.on_body_head(response);
    let strip = |mut g: humanloop_tracing::provider::Generation| {
        g.choices.iter_mut().for_each(|m| m.parts.clear());
        g
    };
    let full = strip(full);
    if full != humanloop_tracing::provider::Generation::default() {
        assert_eq!(strip(dec.finish()), full);
    }

    let mut dec = codec.response_decoder(&req);
    for block in split_blocks(response) {
        let mut event: Option<&str> = None;
        let mut payload: Vec<u8> = Vec::new();
        let mut any_data = false;
        for line in block.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(v) = line.strip_prefix(b"event:") {
                event = std::str::from_utf8(trim(v)).ok();
            } else if let Some(v) = line.strip_prefix(b"data:") {
                if any_data {
                    payload.push(b'\n');
                }
                payload.extend_from_slice(v.strip_prefix(b" ").unwrap_or(v));
                any_data = true;
            }
        }
        if any_data || event.is_some() {
            dec.on_event(event, &payload);
        }
    }
    let _ = dec.finish();
    // finish() is documented as called once, but a second call must not panic either.
    let _ = dec.finish();
}

fn trim(v: &[u8]) -> &[u8] {
    v.strip_prefix(b" ").unwrap_or(v)
}

fn split_blocks(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.windows(2).position(|w| w == b"\n\n") {
            Some(i) => {
                let (block, tail) = rest.split_at(i);
                rest = &tail[2..];
                Some(block)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}
