//! Newline-delimited JSON streams (`application/x-ndjson`, Ollama's native API): each
//! non-empty line is one event for the codec, with no event name. Like the SSE splitter,
//! only a line split across chunks is copied, into one reused buffer bounded by
//! `max_line_bytes` (a longer line is skipped and counted as truncated).

use super::sse::SseSplitter;

/// Splits a byte stream into lines.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
    max_line_bytes: usize,
    /// The unfinished line outgrew the bound: drop bytes up to its end.
    skipping: bool,
    pub(crate) truncated: bool,
}

impl LineSplitter {
    pub(crate) fn new(max_line_bytes: usize) -> Self {
        Self {
            partial: Vec::new(),
            max_line_bytes,
            skipping: false,
            truncated: false,
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8], on_line: &mut dyn FnMut(Option<&str>, &[u8])) {
        let mut rest = chunk;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let (line, after) = (&rest[..i], &rest[i + 1..]);
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                emit(line, on_line);
            } else if self.partial.len() + line.len() <= self.max_line_bytes {
                self.partial.extend_from_slice(line);
                emit(&self.partial, on_line);
            } else {
                self.truncated = true;
            }
            self.partial.clear();
            rest = after;
        }
        if self.skipping || rest.is_empty() {
            return;
        }
        if self.partial.len() + rest.len() > self.max_line_bytes {
            self.partial.clear();
            self.skipping = true;
            self.truncated = true;
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// The last line, when the stream did not end with a newline.
    pub(crate) fn finish(&mut self, on_line: &mut dyn FnMut(Option<&str>, &[u8])) {
        if !self.skipping && !self.partial.is_empty() {
            emit(&self.partial, on_line);
        }
        self.partial.clear();
    }
}

fn emit(line: &[u8], on_line: &mut dyn FnMut(Option<&str>, &[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.trim_ascii().is_empty() {
        on_line(None, line);
    }
}

/// A stream of events: server-sent events or NDJSON lines.
#[derive(Debug)]
pub(crate) enum Events {
    Sse(SseSplitter),
    Lines(LineSplitter),
}

impl Events {
    pub(crate) fn feed(&mut self, chunk: &[u8], on_event: &mut dyn FnMut(Option<&str>, &[u8])) {
        match self {
            Events::Sse(s) => s.feed(chunk, on_event),
            Events::Lines(l) => l.feed(chunk, on_event),
        }
    }

    pub(crate) fn finish(&mut self, on_event: &mut dyn FnMut(Option<&str>, &[u8])) {
        match self {
            Events::Sse(s) => s.finish(on_event),
            Events::Lines(l) => l.finish(on_event),
        }
    }

    pub(crate) fn truncated(&self) -> bool {
        match self {
            Events::Sse(s) => s.truncated,
            Events::Lines(l) => l.truncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]], max: usize) -> (Vec<String>, bool) {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |_, l| {
                out.push(String::from_utf8_lossy(l).into_owned())
            });
        }
        s.finish(&mut |_, l| out.push(String::from_utf8_lossy(l).into_owned()));
        (out, s.truncated)
    }

    #[test]
    fn splits_across_chunks_and_skips_blank_and_long_lines() {
        let (out, t) = lines(&[b"{\"a\":1}\n{\"b\"", b":2}\r\n\n{\"c\":3}"], 64);
        assert_eq!(out, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        assert!(!t);
        let (out, t) = lines(
            &[
                b"{\"long\":\"",
                b"xxxxxxxxxxxxxxxxxxxx",
                b"\"}\n{\"ok\":1}\n",
            ],
            16,
        );
        assert_eq!(out, ["{\"ok\":1}"]);
        assert!(t);
    }
}
