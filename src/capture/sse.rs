//! An incremental server-sent-events splitter that allocates nothing per chunk.
//!
//! It follows the parsing rules of the HTML living standard's `text/event-stream`
//! section, restricted to what LLM providers send: lines end with `\n` or `\r\n`;
//! `data:` lines accumulate (joined with `\n`); `event:` names the event; lines starting
//! with `:` are comments; `id:` and `retry:` are ignored; a blank line dispatches.
//! One leading space after the colon is removed.
//!
//! Lines that lie entirely inside one chunk are parsed in place; only a line split across
//! chunks is copied into a buffer, and all buffers are reused for the whole stream, so a
//! stream costs a few allocations in all, not per chunk or per event. Every buffer is
//! bounded by `max_event_bytes`: an event larger than that is skipped (and counted as
//! truncated), never grown without limit.

/// Splits a byte stream into SSE events and hands each to a callback.
#[derive(Debug)]
pub(crate) struct SseSplitter {
    /// The unfinished line carried over from the previous chunk.
    partial: Vec<u8>,
    /// `data` of the event being assembled.
    data: Vec<u8>,
    /// Whether the current event has a `data` field at all (an empty one counts).
    has_data: bool,
    /// `event` name of the event being assembled.
    event: Vec<u8>,
    /// Bound on `partial` and `data`.
    max_event_bytes: usize,
    /// The current event outgrew the bound: skip it until the next blank line.
    skipping: bool,
    /// The unfinished line outgrew the bound: drop bytes up to its end.
    partial_skip: bool,
    /// Whether any event was skipped for size.
    pub(crate) truncated: bool,
}

impl SseSplitter {
    /// A splitter whose events may be at most `max_event_bytes` long.
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Self {
            partial: Vec::new(),
            data: Vec::new(),
            has_data: false,
            event: Vec::new(),
            max_event_bytes,
            skipping: false,
            partial_skip: false,
            truncated: false,
        }
    }

    /// Feed one chunk; `on_event(event_name, data)` runs for each complete event.
    pub(crate) fn feed(&mut self, chunk: &[u8], on_event: &mut dyn FnMut(Option<&str>, &[u8])) {
        let mut rest = chunk;
        // Finish (or keep skipping) the line carried over from the previous chunk.
        if self.partial_skip || !self.partial.is_empty() {
            let Some(i) = memchr(b'\n', rest) else {
                if !self.partial_skip {
                    if self.partial.len() + rest.len() > self.max_event_bytes {
                        self.overflow();
                    } else {
                        self.partial.extend_from_slice(rest);
                    }
                }
                return;
            };
            if self.partial_skip {
                self.partial_skip = false;
            } else if self.partial.len() + i > self.max_event_bytes {
                self.overflow();
                self.partial_skip = false;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..i]);
                self.line(&line, on_event);
                line.clear();
                self.partial = line; // keep the allocation
            }
            rest = &rest[i + 1..];
        }
        while let Some(i) = memchr(b'\n', rest) {
            self.line(&rest[..i], on_event);
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            if rest.len() > self.max_event_bytes {
                self.overflow();
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
    }

    /// End of stream: a final event not followed by a blank line is dispatched anyway
    /// (lenient: some servers close right after the last `data:` line).
    pub(crate) fn finish(&mut self, on_event: &mut dyn FnMut(Option<&str>, &[u8])) {
        if !self.partial.is_empty() && !self.partial_skip {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, on_event);
        }
        self.dispatch(on_event);
    }

    /// The current line outgrew the bound: drop it and the event it belongs to.
    fn overflow(&mut self) {
        self.partial.clear();
        self.partial_skip = true;
        self.data.clear();
        self.has_data = false;
        self.skipping = true;
        self.truncated = true;
    }

    fn line(&mut self, line: &[u8], on_event: &mut dyn FnMut(Option<&str>, &[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        if self.skipping || line[0] == b':' {
            return;
        }
        let (field, value) = match memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                let extra = value.len() + usize::from(self.has_data);
                if self.data.len() + extra > self.max_event_bytes {
                    self.data.clear();
                    self.has_data = false;
                    self.skipping = true;
                    self.truncated = true;
                    return;
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event
                    .extend_from_slice(&value[..value.len().min(self.max_event_bytes)]);
            }
            _ => {} // id, retry, unknown fields
        }
    }

    fn dispatch(&mut self, on_event: &mut dyn FnMut(Option<&str>, &[u8])) {
        if self.has_data && !self.skipping {
            let name = std::str::from_utf8(&self.event)
                .ok()
                .filter(|s| !s.is_empty());
            on_event(name, &self.data);
        }
        self.data.clear();
        self.event.clear();
        self.has_data = false;
        self.skipping = false;
    }
}

/// The first `needle` in `haystack` (SIMD: a stream's lines are scanned once per chunk).
fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

#[cfg(test)]
mod tests {
    use super::SseSplitter;

    fn split(chunks: &[&[u8]], max: usize) -> (Vec<(Option<String>, String)>, bool) {
        let mut s = SseSplitter::new(max);
        let mut out = Vec::new();
        let mut f = |e: Option<&str>, d: &[u8]| {
            out.push((
                e.map(str::to_owned),
                String::from_utf8_lossy(d).into_owned(),
            ))
        };
        for c in chunks {
            s.feed(c, &mut f);
        }
        s.finish(&mut f);
        (out, s.truncated)
    }

    fn ev(e: Option<&str>, d: &str) -> (Option<String>, String) {
        (e.map(str::to_owned), d.to_owned())
    }

    #[test]
    fn lf_and_crlf() {
        let (out, _) = split(&[b"data: a\n\ndata: b\r\n\r\n"], 1024);
        assert_eq!(out, vec![ev(None, "a"), ev(None, "b")]);
    }

    #[test]
    fn events_split_across_chunks_at_every_byte() {
        let stream = b"event: message_start\r\ndata: {\"x\":1}\r\n\r\n: keep-alive\n\ndata: l1\ndata:l2\n\ndata: [DONE]\n\n";
        let (whole, _) = split(&[stream], 1024);
        assert_eq!(
            whole,
            vec![
                ev(Some("message_start"), "{\"x\":1}"),
                ev(None, "l1\nl2"),
                ev(None, "[DONE]")
            ]
        );
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(split(&[a, b], 1024).0, whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(split(&bytes, 1024).0, whole);
    }

    #[test]
    fn comments_ids_and_unknown_fields_are_ignored() {
        let (out, _) = split(&[b":hi\nid: 3\nretry: 10\nfoo: bar\ndata: x\n\n"], 1024);
        assert_eq!(out, vec![ev(None, "x")]);
    }

    #[test]
    fn final_event_without_blank_line_is_dispatched() {
        let (out, _) = split(&[b"data: a\n\ndata: tail"], 1024);
        assert_eq!(out, vec![ev(None, "a"), ev(None, "tail")]);
    }

    #[test]
    fn oversized_events_are_skipped_and_bounded() {
        let big = format!("data: {}\n\ndata: ok\n\n", "x".repeat(100));
        let (out, truncated) = split(&[big.as_bytes()], 32);
        assert_eq!(out, vec![ev(None, "ok")]);
        assert!(truncated);
        // The same, split so the oversized line crosses chunks.
        let (a, b) = big.as_bytes().split_at(20);
        let (c, d) = b.split_at(50);
        let (out, truncated) = split(&[a, c, d], 32);
        assert_eq!(out, vec![ev(None, "ok")]);
        assert!(truncated);
    }

    #[test]
    fn garbage_never_panics() {
        let (out, _) = split(&[&[0xff, 0xfe, b'\n', b'\r', b':', 0, b'\n', b'\n'][..]], 8);
        assert!(out.is_empty());
    }
}
