//! Stored JSON shaped for the templates: a log's messages as a conversation, its
//! parameters as rows, its payloads as bounded pretty JSON, and the session tree with its
//! timeline. Everything stays text here; the templates escape it.

use serde::Serialize;
use serde_json::Value;

use super::queries::{LogRow, Totals};

/// Pretty JSON shown in a page is cut beyond this many bytes.
const MAX_JSON: usize = 256 * 1024;

/// Bytes of an unlinked URL shown.
const MAX_URL_SHOWN: usize = 200;

#[derive(Debug, Default, Serialize)]
pub(crate) struct Part {
    /// `text`, `image` or `other`.
    kind: &'static str,
    text: String,
    /// Only for `http(s)` URLs.
    href: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct ToolCallView {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Message {
    role: String,
    name: Option<String>,
    tool_call_id: Option<String>,
    parts: Vec<Part>,
    tool_calls: Vec<ToolCallView>,
}

/// A link target for a URL found in a log: only `http` and `https` (never `javascript:`,
/// `data:` or anything a browser would run or render inline).
pub(crate) fn safe_href(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !u.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| u.to_owned())
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

fn image_part(url: &str) -> Part {
    let href = safe_href(url);
    let text = if href.is_some() {
        cut(url, MAX_URL_SHOWN)
    } else if let Some(rest) = url.trim().strip_prefix("data:") {
        let mime = rest.split([';', ',']).next().unwrap_or("");
        format!("inline image ({mime}, {} bytes, not linked)", url.len())
    } else {
        format!("image at {} (not linked)", cut(url, MAX_URL_SHOWN))
    };
    Part {
        kind: "image",
        text,
        href,
    }
}

fn parts(content: &Value) -> Vec<Part> {
    match content {
        Value::Null => Vec::new(),
        Value::String(s) => vec![Part {
            kind: "text",
            text: s.clone(),
            href: None,
        }],
        Value::Array(items) => items.iter().map(part).collect(),
        other => vec![Part {
            kind: "other",
            text: compact(other),
            href: None,
        }],
    }
}

fn part(p: &Value) -> Part {
    match p.get("type").and_then(Value::as_str) {
        Some("text") => Part {
            kind: "text",
            text: p
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            href: None,
        },
        Some("image_url") => {
            let url = p.get("image_url").map_or(&Value::Null, |u| match u {
                Value::Object(o) => o.get("url").unwrap_or(&Value::Null),
                other => other,
            });
            image_part(url.as_str().unwrap_or_default())
        }
        _ => match p {
            Value::String(s) => Part {
                kind: "text",
                text: s.clone(),
                href: None,
            },
            other => Part {
                kind: "other",
                text: compact(other),
                href: None,
            },
        },
    }
}

fn compact(v: &Value) -> String {
    cut(&v.to_string(), MAX_JSON)
}

/// Pretty JSON, cut at [`MAX_JSON`] bytes.
pub(crate) fn pretty(v: &Value) -> String {
    cut(
        &serde_json::to_string_pretty(v).unwrap_or_default(),
        MAX_JSON,
    )
}

fn tool_calls(v: Option<&Value>) -> Vec<ToolCallView> {
    let Some(Value::Array(calls)) = v else {
        return Vec::new();
    };
    calls
        .iter()
        .map(|c| {
            let f = c.get("function").unwrap_or(c);
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => pretty(&v),
                    Err(_) => cut(s, MAX_JSON),
                },
                Some(other) => pretty(other),
                None => String::new(),
            };
            ToolCallView {
                id: text(c.get("id")),
                name: text(f.get("name")),
                arguments,
            }
        })
        .collect()
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn message(m: &Value) -> Message {
    Message {
        role: m
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
        name: m.get("name").and_then(Value::as_str).map(str::to_owned),
        tool_call_id: m
            .get("tool_call_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        parts: parts(m.get("content").unwrap_or(&Value::Null)),
        tool_calls: tool_calls(m.get("tool_calls")),
    }
}

pub(crate) fn messages(v: Option<&Value>) -> Vec<Message> {
    match v {
        Some(Value::Array(list)) => list.iter().map(message).collect(),
        _ => Vec::new(),
    }
}

/// A config's parameters as rows (the templates, tools and names are shown apart).
pub(crate) fn params(config: &Value) -> Vec<(String, String)> {
    let Value::Object(map) = config else {
        return Vec::new();
    };
    map.iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "type"
                    | "chat_template"
                    | "prompt_template"
                    | "tools"
                    | "id"
                    | "project_id"
                    | "created_at"
            )
        })
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => compact(other),
            };
            (k.clone(), v)
        })
        .collect()
}

/// `(key, value)` rows of a JSON object, values as text.
pub(crate) fn rows(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => cut(s, MAX_JSON),
                    other => compact(other),
                };
                (k.clone(), v)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One row of a session's tree.
#[derive(Debug, Serialize)]
pub(crate) struct TreeRow {
    #[serde(flatten)]
    log: LogRow,
    depth: usize,
    /// Totals of this row and everything under it.
    totals: Totals,
    /// Timeline, in percent of the session's span.
    bar_left: f64,
    bar_width: f64,
    ttft_at: Option<f64>,
    offset_ms: Option<i64>,
}

/// The session's logs (creation order) as a depth-first tree with a timeline.
pub(crate) fn tree(logs: Vec<LogRow>) -> (Vec<TreeRow>, Totals) {
    let index: std::collections::HashMap<&str, usize> = logs
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    let parent: Vec<Option<usize>> = logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.parent_id
                .as_deref()
                .and_then(|p| index.get(p).copied())
                .filter(|&p| p < i)
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); logs.len()];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    // Children by start time (ties: creation order).
    let start = |i: &usize| logs[*i].start_ms.unwrap_or(i64::MAX);
    for c in &mut children {
        c.sort_by_key(start);
    }
    roots.sort_by_key(start);

    // Subtree totals, children before parents (a parent always comes earlier).
    let mut totals: Vec<Totals> = logs.iter().map(own_totals).collect();
    for i in (0..logs.len()).rev() {
        if let Some(p) = parent[i] {
            let t = totals[i].clone();
            add(&mut totals[p], &t);
        }
    }
    let mut all = Totals::default();
    for &r in &roots {
        add(&mut all, &totals[r].clone());
    }
    let t0 = all.start_ms;
    let span = match (all.start_ms, all.end_ms) {
        (Some(s), Some(e)) if e > s => (e - s) as f64,
        _ => 1.0,
    };
    all.duration = match (all.start_ms, all.end_ms) {
        (Some(s), Some(e)) => Some((e - s).max(0) as f64 / 1e3),
        _ => None,
    };

    let mut out = Vec::with_capacity(logs.len());
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        for &c in children[i].iter().rev() {
            stack.push((c, depth + 1));
        }
        let l = &logs[i];
        let (bar_left, bar_width, ttft_at, offset_ms) = match (t0, l.start_ms) {
            (Some(t0), Some(s)) => {
                let left = (s - t0) as f64 / span * 100.0;
                let width = l.duration.unwrap_or(0.0) * 1e3 / span * 100.0;
                let ttft = l.ttft.map(|t| r2(left + t * 1e3 / span * 100.0));
                (r2(left), r2(width.max(0.4)), ttft, Some(s - t0))
            }
            _ => (0.0, 0.0, None, None),
        };
        let mut t = totals[i].clone();
        t.duration = l.duration;
        out.push(TreeRow {
            log: l.clone(),
            depth: depth.min(32),
            totals: t,
            bar_left,
            bar_width,
            ttft_at,
            offset_ms,
        });
    }
    (out, all)
}

fn r2(v: f64) -> f64 {
    ((v * 100.0).round() / 100.0).clamp(0.0, 100.0)
}

fn own_totals(l: &LogRow) -> Totals {
    let p = l.prompt_tokens.unwrap_or(0);
    let o = l.output_tokens.unwrap_or(0);
    let end = l
        .start_ms
        .map(|s| s + (l.duration.unwrap_or(0.0) * 1e3) as i64);
    Totals {
        logs: 1,
        calls: i64::from(l.kind == "model"),
        steps: i64::from(l.kind == "tool"),
        prompt_tokens: p,
        output_tokens: o,
        tokens: p + o,
        cost: l.cost,
        errors: i64::from(l.error),
        start_ms: l.start_ms,
        end_ms: end,
        duration: l.duration,
    }
}

fn add(to: &mut Totals, t: &Totals) {
    to.logs += t.logs;
    to.calls += t.calls;
    to.steps += t.steps;
    to.prompt_tokens += t.prompt_tokens;
    to.output_tokens += t.output_tokens;
    to.tokens += t.tokens;
    to.errors += t.errors;
    to.cost = match (to.cost, t.cost) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
    to.start_ms = match (to.start_ms, t.start_ms) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    to.end_ms = match (to.end_ms, t.end_ms) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_http_urls_are_linked() {
        assert!(safe_href("https://example.com/a.png").is_some());
        assert!(safe_href("HTTP://example.com/a.png").is_some());
        assert!(safe_href("javascript:alert(1)").is_none());
        assert!(safe_href(" JaVaScRiPt:alert(1)").is_none());
        assert!(safe_href("data:image/png;base64,AAAA").is_none());
        assert!(safe_href("https://x\n.example").is_none());
        assert!(safe_href("//evil.example/x").is_none());
    }

    #[test]
    fn conversation_keeps_tool_calls_and_images() {
        let m = message(&json!({
            "role": "assistant",
            "content": [{"type": "text", "text": "see"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": "weather", "arguments": "{\"city\":\"Lisbon\"}"}}]
        }));
        assert_eq!(m.parts.len(), 2);
        assert_eq!(m.parts[1].kind, "image");
        assert!(m.parts[1].href.is_none());
        assert!(m.parts[1].text.contains("image/png"));
        assert_eq!(m.tool_calls[0].name, "weather");
        assert!(m.tool_calls[0].arguments.contains("\"city\": \"Lisbon\""));
    }

    #[test]
    fn tree_nests_and_sums_children() {
        let row = |id: &str, parent: Option<&str>, start: i64, dur: f64, tokens: i64| LogRow {
            id: id.into(),
            parent_id: parent.map(Into::into),
            kind: if parent.is_some() { "model" } else { "tool" }.into(),
            start_ms: Some(start),
            duration: Some(dur),
            prompt_tokens: Some(tokens),
            ..LogRow::default()
        };
        let (rows, all) = tree(vec![
            row("a", None, 0, 1.0, 0),
            row("b", Some("a"), 500, 0.25, 3),
            row("c", Some("a"), 100, 0.25, 4),
        ]);
        let ids: Vec<&str> = rows.iter().map(|r| r.log.id.as_str()).collect();
        assert_eq!(ids, ["a", "c", "b"]);
        assert_eq!(rows[0].totals.tokens, 7);
        assert_eq!(rows[0].depth, 0);
        assert_eq!(rows[1].depth, 1);
        assert_eq!(all.calls, 2);
        assert_eq!(rows[2].bar_left, 50.0);
        assert_eq!(rows[2].bar_width, 25.0);
    }
}
