//! Secrets and redaction, in one place: which header and JSON key names carry secrets (as
//! named data), one walker over JSON values that every scrubbing pass is built on, and the
//! masking of credentials in URLs and in `Debug`.
//!
//! Two key lists exist because they answer two questions:
//! [`CAPTURED_SECRET_KEYS`] are the fields whose values a captured request or provider
//! answer never shows (masked, and scrubbed wherever quoted back);
//! [`STORED_SECRET_KEYS`] are the fields the local endpoint removes before it stores a body.
//!
//! ```
//! use humanloop_tracing::redact::{mask_secret_values, CAPTURED_SECRET_KEYS};
//!
//! let mut body = serde_json::json!({"model": "m", "Api_Key": "sk-1", "n": [{"key": "k"}]});
//! mask_secret_values(&mut body, &CAPTURED_SECRET_KEYS);
//! assert_eq!(body["Api_Key"], "[REDACTED]");
//! assert_eq!(body["n"][0]["key"], "[REDACTED]");
//! assert_eq!(body["model"], "m");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// What a masked secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// A list of JSON object key names that hold secrets, matched without regard to ASCII case.
#[derive(Clone, Copy, Debug)]
pub struct SecretKeys {
    names: &'static [&'static str],
    /// A `-` in a key matches a `_` in a name (`x-api-key` is `x_api_key`).
    dash_as_underscore: bool,
    /// Bit `n` is set when a name is `n` bytes long: most quoted strings are ruled out by
    /// their length alone, before any byte is compared.
    lengths: u64,
    longest: usize,
}

/// Keys whose values captured bodies never show: request bodies, provider answers, query
/// parameters (Gemini's `key=`).
pub const CAPTURED_SECRET_KEYS: SecretKeys = SecretKeys::new(
    &[
        "api_key",
        "apikey",
        "api-key",
        "x-api-key",
        "key",
        "authorization",
        "access_token",
        "secret",
        "password",
    ],
    false,
);

/// Keys the local endpoint removes, with their values, before it stores a body (`-` and
/// `_` alike).
pub const STORED_SECRET_KEYS: SecretKeys = SecretKeys::new(
    &[
        "provider_api_keys",
        "api_key",
        "apikey",
        "authorization",
        "x_api_key",
    ],
    true,
);

/// Request headers that carry provider keys (parsed once: looking a header up by `&str`
/// parses the name on every call).
pub const SECRET_HEADERS: [http::HeaderName; 5] = [
    http::header::AUTHORIZATION,
    http::HeaderName::from_static("x-api-key"),
    http::HeaderName::from_static("api-key"),
    http::HeaderName::from_static("x-goog-api-key"),
    http::header::PROXY_AUTHORIZATION,
];

impl SecretKeys {
    /// Names (lower case, each shorter than 64 bytes) and whether `-` matches `_`.
    const fn new(names: &'static [&'static str], dash_as_underscore: bool) -> Self {
        let (mut lengths, mut longest, mut i) = (0u64, 0, 0);
        while i < names.len() {
            let len = names[i].len();
            assert!(len < 64, "a secret key name is shorter than 64 bytes");
            lengths |= 1 << len;
            if len > longest {
                longest = len;
            }
            i += 1;
        }
        SecretKeys {
            names,
            dash_as_underscore,
            lengths,
            longest,
        }
    }

    /// The names, lower case.
    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }

    fn matches_bytes(&self, key: &[u8]) -> bool {
        if key.len() >= 64 || self.lengths >> key.len() & 1 == 0 {
            return false;
        }
        self.names.iter().any(|name| {
            name.len() == key.len()
                && if self.dash_as_underscore {
                    key.iter().zip(name.bytes()).all(|(&c, n)| {
                        let c = c.to_ascii_lowercase();
                        c == n || (c == b'-' && n == b'_')
                    })
                } else {
                    key.eq_ignore_ascii_case(name.as_bytes())
                }
        })
    }

    /// Whether `key` is one of the names.
    pub fn matches(&self, key: &str) -> bool {
        self.matches_bytes(key.as_bytes())
    }

    /// Whether JSON text may hold one of the names as a key: a quote, the name, a quote.
    /// Keys are written verbatim between quotes, so none is missed; a string value that
    /// spells a name only costs the caller its slow path. One pass, no allocation.
    pub fn named_in(&self, json: &[u8]) -> bool {
        // Each quote opens a candidate that the next quote closes: one pass over the
        // quotes, and most candidates are ruled out by their length alone.
        let mut open = None;
        for quote in memchr::memchr_iter(b'"', json) {
            if let Some(start) = open {
                let len = quote - start;
                if len <= self.longest
                    && self.lengths >> len & 1 == 1
                    && self.matches_bytes(&json[start..quote])
                {
                    return true;
                }
            }
            open = Some(quote + 1);
        }
        false
    }
}

/// What [`walk`] does with a node after its visitor saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visit {
    /// Go on into the node's children.
    Descend,
    /// Leave the node as it is and do not look inside.
    Skip,
    /// Remove the node (an object entry; in an array or at the top this is [`Visit::Skip`]).
    Remove,
}

/// The one JSON walker: `visit` sees every node, top down, with its key when it is an
/// object entry, and may change it, skip it or remove it.
pub fn walk(value: &mut Value, visit: &mut dyn FnMut(Option<&str>, &mut Value) -> Visit) {
    if visit(None, value) == Visit::Descend {
        walk_children(value, visit);
    }
}

fn walk_children(value: &mut Value, visit: &mut dyn FnMut(Option<&str>, &mut Value) -> Visit) {
    match value {
        Value::Object(map) => map.retain(|k, child| match visit(Some(k), child) {
            Visit::Remove => false,
            Visit::Skip => true,
            Visit::Descend => {
                walk_children(child, visit);
                true
            }
        }),
        Value::Array(items) => {
            for child in items {
                if visit(None, child) == Visit::Descend {
                    walk_children(child, visit);
                }
            }
        }
        _ => {}
    }
}

/// Run `f` on every string inside `value` (keys excluded).
pub fn for_each_string(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    walk(value, &mut |_, v| {
        if let Value::String(s) = v {
            f(s);
        }
        Visit::Descend
    });
}

/// Replace the value of every key in `keys`, anywhere in `value`, with [`REDACTED`].
pub fn mask_secret_values(value: &mut Value, keys: &SecretKeys) {
    walk(value, &mut |key, v| match key {
        Some(k) if keys.matches(k) => {
            *v = Value::String(REDACTED.to_owned());
            Visit::Skip
        }
        _ => Visit::Descend,
    });
}

/// Remove every key in `keys`, with its value, anywhere in `value`.
pub fn remove_secret_keys(value: &mut Value, keys: &SecretKeys) {
    walk(value, &mut |key, _| match key {
        Some(k) if keys.matches(k) => Visit::Remove,
        _ => Visit::Descend,
    });
}

/// The string values of the keys in `keys`, anywhere in `value`, trimmed.
pub fn secret_values(value: &mut Value, keys: &SecretKeys, out: &mut Vec<String>) {
    walk(value, &mut |key, v| match (key, &*v) {
        (Some(k), Value::String(s)) if keys.matches(k) => {
            out.push(s.trim().to_owned());
            Visit::Skip
        }
        _ => Visit::Descend,
    });
}

/// `url` with its userinfo (`user:password@`), if any, shown as `****@`: for `Debug` and
/// error messages, where a credential written into a base URL must not appear. Works on
/// strings that do not parse as URLs too (an invalid base URL is echoed in its error).
pub fn redact_userinfo(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => Cow::Owned(format!("{}****{}", &url[..scheme_end], &rest[at..])),
        None => Cow::Borrowed(url),
    }
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<Arc<str>>) -> Self {
        Self(s.into())
    }
    /// The secret itself: only for putting it in a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn userinfo_is_masked_in_shown_urls() {
        for (url, shown) in [
            ("http://u:pw@h:1/v4", "http://****@h:1/v4"),
            ("ftp://token@h/x?y=@z", "ftp://****@h/x?y=@z"),
            ("http://h/v4?user=a@b", "http://h/v4?user=a@b"),
            ("not a url u:pw@h", "not a url u:pw@h"),
            ("http://a:b@c@h", "http://****@h"),
        ] {
            assert_eq!(redact_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn captured_keys_are_masked_everywhere() {
        let mut v = json!({"model": "m", "api_key": "sk-1", "nested": [{"Key": "k"}]});
        mask_secret_values(&mut v, &CAPTURED_SECRET_KEYS);
        assert_eq!(v["api_key"], "[REDACTED]");
        assert_eq!(v["nested"][0]["Key"], "[REDACTED]");
        assert_eq!(v["model"], "m");
    }

    #[test]
    fn stored_keys_are_removed_everywhere() {
        let mut v = json!({"a": {"provider_api_keys": {"openai": "sk"}, "Authorization": "x", "X-Api-Key": "y", "keep": [{"api_key": 1, "b": 2}]}});
        remove_secret_keys(&mut v, &STORED_SECRET_KEYS);
        assert_eq!(v, json!({"a": {"keep": [{"b": 2}]}}));
    }

    #[test]
    fn key_names_are_found_in_json_text() {
        assert!(!CAPTURED_SECRET_KEYS.named_in(br#"{"model": "keys", "monkey": "x"}"#));
        assert!(CAPTURED_SECRET_KEYS.named_in(br#"{"AUTHORIZATION": 1}"#));
        assert!(STORED_SECRET_KEYS.named_in(br#"{"x-API_key": 1}"#));
        assert!(!STORED_SECRET_KEYS.named_in(br#"{"api_keys": 1}"#));
        // The longest name, after an empty string and a long value; a name as a value.
        assert!(STORED_SECRET_KEYS
            .named_in(br#"{"": "", "m": "a long ordinary value", "Provider_Api_Keys": {}}"#));
        assert!(CAPTURED_SECRET_KEYS.named_in(br#"["key"]"#));
        assert!(!CAPTURED_SECRET_KEYS.named_in(br#"{"": "", "k": "ey"}"#));
    }

    #[test]
    fn strings_are_visited_at_every_depth() {
        let mut v = json!(["a", {"k": "b", "n": 1, "deep": [["c"]]}]);
        let mut seen = Vec::new();
        for_each_string(&mut v, &mut |s| {
            seen.push(s.clone());
            s.make_ascii_uppercase();
        });
        seen.sort();
        assert_eq!(seen, ["a", "b", "c"]);
        assert_eq!(v, json!(["A", {"k": "B", "n": 1, "deep": [["C"]]}]));
    }

    #[test]
    fn secret_values_are_collected_trimmed() {
        let mut v = json!({"Api_Key": " sk-body ", "n": [{"key": "short"}], "x": {"secret": 3}});
        let mut out = Vec::new();
        secret_values(&mut v, &CAPTURED_SECRET_KEYS, &mut out);
        assert_eq!(out, ["sk-body", "short"]);
    }
}
