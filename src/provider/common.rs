//! Building blocks shared by the codecs: lenient scalar types for borrowed, typed
//! decoding, and the per-choice accumulators streams are joined into.
//!
//! The lenient types never fail on a wrong JSON type: a string where a number was
//! expected, a huge number, a nested object — they read as "absent" instead, so one odd
//! field does not lose the whole event.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Message, Part, ProviderError};

/// Most choices a response may have; larger indexes are ignored (bounds memory).
pub const MAX_CHOICES: usize = 128;
/// Most tool calls or content blocks per choice; larger indexes are ignored.
pub const MAX_ITEMS: usize = 1024;

/// Most text kept per output part (a choice's text, a tool call's arguments): 1 MiB, the
/// default capture cap. Longer outputs are cut there.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;

/// An integer read leniently: integers (saturated to `i64`), finite floats (truncated),
/// numeric strings; anything else is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Int(pub Option<i64>);

impl Int {
    /// The value as an index below `cap`.
    pub fn index(self, cap: usize) -> Option<usize> {
        match self.0 {
            Some(i) if i >= 0 && (i as u64) < cap as u64 => Some(i as usize),
            _ => None,
        }
    }
}

struct IntVisitor;

impl<'de> Visitor<'de> for IntVisitor {
    type Value = Int;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Int, E> {
        Ok(Int(None))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
        Ok(Int(Some(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
        Ok(Int(Some(i64::try_from(v).unwrap_or(i64::MAX))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
        // `as` saturates; NaN cannot come out of JSON but maps to None anyway.
        Ok(Int(v.is_finite().then_some(v as i64)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
        Ok(Int(v.trim().parse().ok()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Int, E> {
        Ok(Int(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Int, E> {
        Ok(Int(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Int, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Int, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Int(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Int, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Int(None))
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor)
    }
}

/// A string read leniently and borrowed when it has no escapes; any other JSON type
/// is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    /// The string, if present.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
    /// The string, owned, if present.
    pub fn owned(&self) -> Option<String> {
        self.0.as_deref().map(str::to_owned)
    }
    /// The string or `""`.
    pub fn or_empty(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Str<'de>, E> {
        Ok(Str(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Str<'de>, E> {
        Ok(Str(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Str<'de>, E> {
        Ok(Str(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Str<'de>, E> {
        Ok(Str(None))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Str(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(Str(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
        Ok(Str(Some(Cow::Owned(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Str<'de>, E> {
        Ok(Str(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Str<'de>, E> {
        Ok(Str(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Str<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Str<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Str(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Str<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Str(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor)
    }
}

/// A JSON array read leniently: `null` or any non-array is empty. Elements must still
/// have the right shape (a wrong element fails the enclosing event, which is then
/// skipped). The first element is stored inline: stream chunks carry one choice, one
/// tool call or one part, and decoding them must not allocate.
#[derive(Debug)]
pub(crate) struct List<T> {
    first: Option<T>,
    rest: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List {
            first: None,
            rest: Vec::new(),
        }
    }
}

impl<T> List<T> {
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(self.rest.iter())
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<std::option::IntoIter<T>, std::vec::IntoIter<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut out = List {
                    first: seq.next_element()?,
                    rest: Vec::new(),
                };
                if out.first.is_some() {
                    while let Some(x) = seq.next_element()? {
                        out.rest.push(x);
                    }
                }
                Ok(out)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::default())
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A string appended to an output buffer straight from the JSON text: borrowed raw,
/// unescaped into the buffer, so a delta costs no allocation even when it has escapes.
/// Any other JSON type is absent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Text<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Text(Some(<&'a RawValue>::deserialize(d)?)))
    }
}

impl Text<'_> {
    /// The JSON string's body (between the quotes, still escaped), if it is a string.
    fn body(&self) -> Option<&str> {
        self.0?.get().trim().strip_prefix('"')?.strip_suffix('"')
    }

    /// Whether this is a JSON string.
    pub fn is_some(&self) -> bool {
        self.body().is_some()
    }

    /// Appends the string to `out`; `false` when it is not a string. Once `out` holds
    /// [`MAX_TEXT_BYTES`], further deltas are skipped, so a never-ending stream keeps the
    /// decoder's memory bounded.
    pub fn append_to(&self, out: &mut String) -> bool {
        match self.body() {
            Some(b) => {
                if out.len() < MAX_TEXT_BYTES {
                    // Unescaped, the text is at most as long: one growth instead of one
                    // per escape.
                    out.reserve(b.len());
                    unescape_into(b, out);
                }
                true
            }
            None => false,
        }
    }

    /// The string, owned, if it is one.
    pub fn owned(&self) -> Option<String> {
        let mut s = String::new();
        self.append_to(&mut s).then_some(s)
    }
}

/// Appends the JSON string body `s` (validated by serde_json) to `out`, unescaped.
fn unescape_into(s: &str, out: &mut String) {
    let mut rest = s;
    // `memchr` rather than `str::find`: tool arguments are JSON in a JSON string, an
    // escape every few bytes, and `find` costs more per call than the scan it makes.
    while let Some(i) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let esc = &rest[i + 1..];
        let mut chars = esc.chars();
        let consumed = match chars.next() {
            Some('n') => {
                out.push('\n');
                1
            }
            Some('t') => {
                out.push('\t');
                1
            }
            Some('r') => {
                out.push('\r');
                1
            }
            Some('b') => {
                out.push('\u{8}');
                1
            }
            Some('f') => {
                out.push('\u{c}');
                1
            }
            Some('u') => {
                let hi = esc.get(1..5).and_then(|h| u32::from_str_radix(h, 16).ok());
                match hi {
                    Some(hi @ 0xD800..=0xDBFF) => {
                        let lo = esc
                            .get(5..7)
                            .filter(|p| *p == "\\u")
                            .and_then(|_| esc.get(7..11))
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                            .filter(|lo| (0xDC00..=0xDFFF).contains(lo));
                        match lo {
                            Some(lo) => {
                                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                                11
                            }
                            None => {
                                out.push('\u{FFFD}');
                                5
                            }
                        }
                    }
                    Some(c) => {
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        5
                    }
                    None => 1,
                }
            }
            // `\"`, `\\`, `\/`, and anything else: the character itself.
            Some(c) => {
                out.push(c);
                c.len_utf8()
            }
            None => 0,
        };
        rest = esc.get(consumed..).unwrap_or("");
    }
    out.push_str(rest);
}

/// Counts the elements of a JSON array without keeping them (embeddings' vectors).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Count(pub Option<usize>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(Some(n)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Sets `slot` from the first non-empty `s` (Azure's first stream chunk has empty ids),
/// allocating only then.
pub(crate) fn set_once(slot: &mut Option<String>, s: &Str<'_>) {
    if slot.is_none() {
        if let Some(v) = s.as_deref().filter(|v| !v.is_empty()) {
            *slot = Some(v.to_owned());
        }
    }
}

/// Overwrites `slot` with `s` when present, reusing the buffer.
pub(crate) fn set_latest(slot: &mut Option<String>, s: &Str<'_>) {
    if let Some(v) = s.as_deref() {
        match slot {
            Some(cur) if cur == v => {}
            Some(cur) => {
                cur.clear();
                cur.push_str(v);
            }
            None => *slot = Some(v.to_owned()),
        }
    }
}

/// Tool arguments as a JSON value when they parse, else the raw string.
pub(crate) fn arguments_value(raw: String) -> Value {
    if raw.is_empty() {
        return Value::Object(Default::default());
    }
    match serde_json::from_str::<Value>(&raw) {
        Ok(v) => v,
        Err(_) => Value::String(raw),
    }
}

/// A tool call being assembled from fragments.
#[derive(Clone, Debug, Default)]
pub(crate) struct ToolAcc {
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
    /// The arguments arrived whole as a JSON value (Gemini, Anthropic plain bodies).
    pub value: Option<Value>,
}

impl ToolAcc {
    pub fn into_part(self) -> Part {
        Part::ToolCall {
            id: self.id,
            name: self.name,
            arguments: match self.value {
                Some(v) if self.arguments.is_empty() => v,
                _ => arguments_value(self.arguments),
            },
        }
    }
}

/// One output block of a choice, in arrival order.
#[derive(Clone, Debug)]
pub(crate) enum Block {
    Text(String),
    Reasoning(String),
    Tool(ToolAcc),
    /// A block that is not output (a server tool's result, redacted thinking), or a
    /// slot not seen yet.
    Other,
}

impl Block {
    fn into_part(self) -> Option<Part> {
        match self {
            Block::Text(s) if s.is_empty() => None,
            Block::Text(content) => Some(Part::Text { content }),
            Block::Reasoning(s) if s.is_empty() => None,
            Block::Reasoning(content) => Some(Part::Reasoning { content }),
            Block::Tool(t) => Some(t.into_part()),
            Block::Other => None,
        }
    }
}

/// Appends to `out` the text of `blocks` (text blocks joined) past byte `offset`; returns
/// the joined text's length. See [`super::ResponseDecoder::text_since`].
pub(crate) fn text_since(blocks: &[Block], offset: usize, out: &mut String) -> usize {
    let mut start = 0;
    for b in blocks {
        let Block::Text(t) = b else { continue };
        let end = start + t.len();
        if end > offset {
            // Text only grows at its end, so `offset` falls on a char boundary; `get`
            // keeps a stale offset from panicking all the same.
            out.push_str(t.get(offset.saturating_sub(start)..).unwrap_or_default());
        }
        start = end;
    }
    start
}

/// One choice being assembled: its blocks in order, role and finish reason.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChoiceAcc {
    pub seen: bool,
    pub role: Option<String>,
    pub blocks: Vec<Block>,
    /// OpenAI refusal text, recorded as a text part after the content.
    pub refusal: String,
    /// OpenAI-style tool calls addressed by their own index, after the other blocks.
    pub tools: Vec<ToolAcc>,
    pub finish_reason: Option<String>,
}

impl ChoiceAcc {
    /// Appends a JSON text to the last text block, or opens one.
    pub fn append_text(&mut self, t: &Text<'_>) {
        if let Some(Block::Text(s)) = self.blocks.last_mut() {
            t.append_to(s);
        } else if self.blocks.len() < MAX_ITEMS {
            let mut s = String::new();
            if t.append_to(&mut s) && !s.is_empty() {
                self.blocks.push(Block::Text(s));
            }
        }
    }

    /// Appends a JSON text to the last reasoning block, or opens one.
    pub fn append_reasoning(&mut self, t: &Text<'_>) {
        if let Some(Block::Reasoning(s)) = self.blocks.last_mut() {
            t.append_to(s);
        } else if self.blocks.len() < MAX_ITEMS {
            let mut s = String::new();
            if t.append_to(&mut s) && !s.is_empty() {
                self.blocks.push(Block::Reasoning(s));
            }
        }
    }

    /// The tool call at `slot` (OpenAI's per-choice tool index), created on first use.
    pub fn tool(&mut self, slot: usize) -> Option<&mut ToolAcc> {
        if slot >= MAX_ITEMS {
            return None;
        }
        if self.tools.len() <= slot {
            self.tools.resize_with(slot + 1, ToolAcc::default);
        }
        self.tools.get_mut(slot)
    }

    /// Finishes into a message; `None` when the choice never appeared.
    pub fn into_message(self) -> Option<Message> {
        if !self.seen {
            return None;
        }
        let mut parts = Vec::with_capacity(self.blocks.len() + self.tools.len() + 1);
        parts.extend(self.blocks.into_iter().filter_map(Block::into_part));
        if !self.refusal.is_empty() {
            parts.push(Part::Text {
                content: self.refusal,
            });
        }
        parts.extend(self.tools.into_iter().map(ToolAcc::into_part));
        Some(Message {
            role: normalise_output_role(self.role),
            parts,
            name: None,
            finish_reason: self.finish_reason,
        })
    }
}

/// For a streamed request, how many choices end its stream: the requested count (`n`,
/// `candidateCount`), 1 when absent, capped at [`MAX_CHOICES`]. `None` when it does not
/// stream (or was not decoded): then only the protocol's end marker or the body's end
/// ends it.
pub(crate) fn expected_choices(request: &super::LlmRequest) -> Option<usize> {
    let n = request
        .params
        .choice_count
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(1)
        .clamp(1, MAX_CHOICES);
    request.stream.then_some(n)
}

/// Choices by index, capped at [`MAX_CHOICES`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Choices(pub Vec<ChoiceAcc>);

impl Choices {
    /// The choice at `index`, created on first use; `None` past the cap.
    pub fn at(&mut self, index: usize) -> Option<&mut ChoiceAcc> {
        if index >= MAX_CHOICES {
            return None;
        }
        if self.0.len() <= index {
            self.0.resize_with(index + 1, ChoiceAcc::default);
        }
        let c = &mut self.0[index];
        c.seen = true;
        Some(c)
    }

    /// How many choices have a (non-empty) finish reason.
    pub fn finished(&self) -> usize {
        self.0
            .iter()
            .filter(|c| c.finish_reason.as_deref().is_some_and(|r| !r.is_empty()))
            .count()
    }

    pub fn into_messages(self) -> Vec<Message> {
        self.0
            .into_iter()
            .filter_map(ChoiceAcc::into_message)
            .collect()
    }
}

/// An output role in the GenAI terms (the provider's string kept when it already is).
fn normalise_output_role(role: Option<String>) -> String {
    match role {
        Some(r) if !matches!(r.as_str(), "" | "model") => r,
        _ => "assistant".to_owned(),
    }
}

/// Maps a provider's input role onto the GenAI roles.
pub(crate) fn normalise_role(role: &str) -> String {
    match role {
        "developer" => "system",
        "model" => "assistant",
        "function" => "tool",
        r => r,
    }
    .to_owned()
}

/// `{"error": {"message", "type", "code"}}` as OpenAI, Azure and most compatible servers
/// send it (also Gemini's `{"error": {"code": 400, "message", "status"}}`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ErrorObject<'a> {
    #[serde(borrow)]
    pub message: Str<'a>,
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    /// OpenAI: a string code; Gemini: the HTTP status number.
    #[serde(borrow)]
    pub code: Str<'a>,
    /// Gemini: `INVALID_ARGUMENT`, …
    #[serde(borrow)]
    pub status: Str<'a>,
}

impl ErrorObject<'_> {
    pub fn to_error(&self) -> ProviderError {
        ProviderError {
            code: self
                .code
                .as_deref()
                .or(self.status.as_deref())
                .or(self.kind.as_deref())
                .map(str::to_owned),
            message: self.message.owned(),
        }
    }
}

/// Whether `data` starts (after whitespace) like a JSON object. Checked before typed
/// decoding because serde also reads a struct from an array (by position), and
/// `[DONE]` or other non-JSON data should not cost a parse attempt.
pub(crate) fn looks_like_object(data: &[u8]) -> bool {
    data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// `data` decoded as `T` when it looks like a JSON object ([`looks_like_object`]).
///
/// Valid UTF-8 is checked once for the whole input, then decoded from `&str`: serde_json
/// then skips checking each string and key on its own, which on short fields costs more
/// than the rest of the decode. Input that is not UTF-8 is decoded from bytes, exactly
/// as `serde_json::from_slice` would (an invalid byte in a skipped string is no error).
pub(crate) fn decode_object<'a, T: Deserialize<'a>>(data: &'a [u8]) -> Option<T> {
    if !looks_like_object(data) {
        return None;
    }
    match std::str::from_utf8(data) {
        Ok(text) => serde_json::from_str(text).ok(),
        Err(_) => serde_json::from_slice(data).ok(),
    }
}

/// As [`decode_object`], for a head decoder, which skips most of the bytes (the content):
/// decoded from bytes without checking the whole input as UTF-8 first. serde_json checks
/// each string it builds, and the skipped ones need no check, so on a long answer this
/// costs a fraction of the check (a 2 KB chat completion: 19.6 k instructions before).
pub(crate) fn decode_head_object<'a, T: Deserialize<'a>>(data: &'a [u8]) -> Option<T> {
    if !looks_like_object(data) {
        return None;
    }
    serde_json::from_slice(data).ok()
}

/// As [`decode_object`], with why it failed: `Err(None)` when `data` does not look like
/// an object, else serde_json's error (`is_eof`: the input ended early, as a body cut at
/// the capture cap does).
pub(crate) fn try_decode_object<'a, T: Deserialize<'a>>(
    data: &'a [u8],
) -> Result<T, Option<serde_json::Error>> {
    if !looks_like_object(data) {
        return Err(None);
    }
    match std::str::from_utf8(data) {
        Ok(text) => serde_json::from_str(text).map_err(Some),
        Err(_) => serde_json::from_slice(data).map_err(Some),
    }
}

/// An error body: the common `{"error": {...}}` (OpenAI, Azure, Anthropic, Gemini) or
/// `{"error": "text"}`, or the flat `{"object": "error", "message", "type", "code"}` of
/// Mistral and vLLM, or FastAPI's `{"detail": "text"}`.
pub(crate) fn decode_error_envelope(body: &[u8]) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        error: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, flatten)]
        flat: ErrorObject<'a>,
        #[serde(borrow, default)]
        detail: Str<'a>,
    }
    if !looks_like_object(body) {
        return None;
    }
    let env = serde_json::from_slice::<Envelope<'_>>(body).ok()?;
    if let Some(raw) = env.error {
        let raw = raw.get();
        if looks_like_object(raw.as_bytes()) {
            let o = serde_json::from_str::<ErrorObject<'_>>(raw).ok()?;
            return Some(o.to_error());
        }
        let text = serde_json::from_str::<Str<'_>>(raw).ok()?;
        return text.owned().map(|message| ProviderError {
            code: None,
            message: Some(message),
        });
    }
    if env.flat.message.as_deref().is_some() {
        return Some(env.flat.to_error());
    }
    env.detail.owned().map(|message| ProviderError {
        code: None,
        message: Some(message),
    })
}

/// Parts of a `data:` URL: `(mime type, base64 content)`.
pub(crate) fn split_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

/// The modality of a MIME type: `image`, `audio`, `video`, else `file`.
pub(crate) fn modality_of(mime: &str) -> &'static str {
    if mime.starts_with("image/") {
        "image"
    } else if mime.starts_with("audio/") {
        "audio"
    } else if mime.starts_with("video/") {
        "video"
    } else {
        "file"
    }
}

/// A URL or data URL as a part.
pub(crate) fn url_part(url: &str, modality: &str) -> Part {
    match split_data_url(url) {
        Some((mime, data)) => Part::Blob {
            mime_type: (!mime.is_empty()).then(|| mime.to_owned()),
            modality: modality.to_owned(),
            content: data.to_owned(),
        },
        None => Part::Uri {
            uri: url.to_owned(),
            modality: modality.to_owned(),
        },
    }
}

/// `stop` as a string or an array of strings.
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A JSON number as i64 (saturating floats), for request parameters.
pub(crate) fn value_i64(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64()
        .or_else(|| v.as_u64().map(|_| i64::MAX))
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

/// A JSON number as f64, for request parameters.
pub(crate) fn value_f64(v: Option<&Value>) -> Option<f64> {
    v?.as_f64()
}

/// A string field of a JSON object.
pub(crate) fn value_str(v: Option<&Value>) -> Option<String> {
    v?.as_str().map(str::to_owned)
}

/// The top-level object of a JSON request body, without the fields named in `skip`:
/// those are checked for syntax only, never built into a tree. `None` when the body is
/// not one JSON object. With an empty `skip` this is `serde_json::from_slice::<Value>`
/// restricted to objects (duplicate keys: the last wins, as there).
///
/// Codecs read a request in two steps: what the span needs at start, on the caller's
/// path, skipping the content fields (messages, tools: nearly all of a body's bytes);
/// then everything, off the caller's path, when the log is built.
pub(crate) fn parse_object(body: &[u8], skip: &[&str]) -> Option<serde_json::Map<String, Value>> {
    struct Fields<'s>(&'s [&'s str]);

    impl<'de> Visitor<'de> for Fields<'_> {
        type Value = serde_json::Map<String, Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = serde_json::Map::new();
            // Keys are borrowed when they have no escapes: a skipped field costs nothing.
            while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                let key = key.unwrap_or_default();
                if self.0.contains(&key.as_ref()) {
                    map.next_value::<IgnoredAny>()?;
                } else {
                    out.insert(key.into_owned(), map.next_value()?);
                }
            }
            Ok(out)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(body);
    let object = de.deserialize_map(Fields(skip)).ok()?;
    de.end().ok()?;
    Some(object)
}

/// Any JSON value read for a request head without building a tree: a scalar as it is,
/// an array or object skipped (syntax checked only). Reads the same as the
/// `value_*` helpers do on a `Value`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// `null`, an array or an object.
    #[default]
    Other,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
}

impl<'a> Scalar<'a> {
    /// As [`value_f64`]: any number.
    pub fn f64(&self) -> Option<f64> {
        match *self {
            Scalar::I64(i) => Some(i as f64),
            Scalar::U64(u) => Some(u as f64),
            Scalar::F64(f) => Some(f),
            _ => None,
        }
    }
    /// As [`value_i64`]: integers (saturated), finite floats truncated.
    pub fn i64(&self) -> Option<i64> {
        match *self {
            Scalar::I64(i) => Some(i),
            Scalar::U64(u) => Some(i64::try_from(u).unwrap_or(i64::MAX)),
            Scalar::F64(f) => f.is_finite().then_some(f as i64),
            _ => None,
        }
    }
    /// As [`Value::as_bool`].
    pub fn bool(&self) -> Option<bool> {
        match *self {
            Scalar::Bool(b) => Some(b),
            _ => None,
        }
    }
    /// As [`value_str`]: the string, owned.
    pub fn string(self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s.into_owned()),
            _ => None,
        }
    }
    /// The string, borrowed.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::I64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::U64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::F64(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<Str<'de>, Checked>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A request head's `stop`-like field read as [`string_list`] reads it: a string, or
/// the strings of an array (the `bool`: it was an array).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct StrList(pub Vec<String>, pub bool);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(vec![v.to_owned()], false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StrList, E> {
                Ok(StrList::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Scalar<'de>>()? {
                    if let Some(s) = x.string() {
                        out.push(s);
                    }
                }
                Ok(StrList(out, true))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrList, A::Error> {
                while map.next_entry::<Checked, Checked>()?.is_some() {}
                Ok(StrList::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// One field of a nested object in a request head (`response_format.type`,
/// `stream_options.include_usage`), the last occurrence winning as in a `Value` map;
/// anything but an object reads as absent.
pub(crate) fn nested_field<'de, A, T>(map: &mut A, key: &str) -> Result<Option<T>, A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    struct V<'k, T>(&'k str, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<'_, T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("anything")
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Option<T>, S::Error> {
            while seq.next_element::<Checked>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<T>, M::Error> {
            let mut out = None;
            while let Some(Str(k)) = map.next_key::<Str<'de>>()? {
                if k.as_deref() == Some(self.0) {
                    out = Some(map.next_value::<T>()?);
                } else {
                    map.next_value::<Checked>()?;
                }
            }
            Ok(out)
        }
    }
    struct Seed<'k, T>(&'k str, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for Seed<'_, T> {
        type Value = Option<T>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            d.deserialize_any(V(self.0, std::marker::PhantomData))
        }
    }
    map.next_value_seed(Seed(key, std::marker::PhantomData))
}

/// A JSON value checked as `serde_json::from_slice::<Value>` would check it (strings
/// valid UTF-8), nothing kept: the unknown fields of a head, so that a head decodes
/// exactly the bodies the full decode does, except in its skipped content.
pub(crate) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Checked)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
                while map.next_entry::<Str<'de>, Checked>()?.is_some() {}
                Ok(Checked)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_escapes_is_unescaped_whole() {
        let t: Text<'_> = serde_json::from_str(r#""{\n\"a\": \"\u00e9\ud83d\ude00\"}""#).unwrap();
        let mut s = String::from("x");
        assert!(t.append_to(&mut s));
        assert_eq!(s, "x{\n\"a\": \"é😀\"}");
    }
}
