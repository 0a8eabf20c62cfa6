//! The UI's own tables: one row of facts per datapoint (kind, model, times, tokens, cost,
//! error) and a full-text index, so that listing, filtering and charting never parse the
//! stored JSON bodies again.
//!
//! They are filled lazily: before a page is answered, the datapoints added (by `seq`) or
//! updated (by `updated_at`) since the last page are read once and their facts written.
//! The write path of the API stays as it is (no trigger, no extra work per logged row);
//! the cost moves to the first page after new logs, in batches of [`BATCH`] rows per lock
//! so that ingestion is never held up for long.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

/// Additive: the UI's tables and the indexes its queries need; nothing existing changes.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ui_logs (
    seq INTEGER PRIMARY KEY,        -- datapoints.seq
    id TEXT NOT NULL,
    project_id TEXT,
    session_id TEXT,
    parent_id TEXT,
    kind TEXT NOT NULL,             -- 'model' (an LLM call), 'tool' (a step) or 'other'
    name TEXT,
    model TEXT,
    config_id TEXT,
    start_ms INTEGER,
    duration REAL,
    dur_bin INTEGER,                -- latency bin, see chart::duration_bin
    ttft REAL,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    cost REAL,
    error INTEGER NOT NULL DEFAULT 0,
    preview TEXT
);
CREATE INDEX IF NOT EXISTS ui_logs_session ON ui_logs (session_id, start_ms);
CREATE INDEX IF NOT EXISTS ui_logs_project ON ui_logs (project_id, start_ms);
CREATE INDEX IF NOT EXISTS ui_logs_calls ON ui_logs (project_id, kind, start_ms, dur_bin);
-- Hourly roll-ups of the LLM calls, for the project page's charts and top models.
CREATE TABLE IF NOT EXISTS ui_rollup_calls (
    project_id TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    model TEXT NOT NULL,
    calls INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (project_id, hour_ms, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ui_rollup_latency (
    project_id TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    dur_bin INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (project_id, hour_ms, dur_bin)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ui_logs_model ON ui_logs (model, session_id);
CREATE INDEX IF NOT EXISTS ui_logs_config ON ui_logs (config_id, seq);
CREATE INDEX IF NOT EXISTS ui_logs_error ON ui_logs (session_id) WHERE error = 1;
CREATE VIRTUAL TABLE IF NOT EXISTS ui_search USING fts5 (text);
CREATE TABLE IF NOT EXISTS ui_sync (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ui_datapoints_updated ON datapoints (updated_at) WHERE updated_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ui_sessions_created ON sessions (created_at);
CREATE INDEX IF NOT EXISTS ui_sessions_project ON sessions (project_id, created_at);
";

/// Datapoints indexed per transaction (one lock of the store).
pub(crate) const BATCH: usize = 1000;

/// Searchable text kept per log, in bytes.
const MAX_TEXT: usize = 8 * 1024;

/// Characters of the output shown in trees and lists.
const PREVIEW_CHARS: usize = 160;

/// Create the UI's tables and indexes if missing.
pub(crate) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch(SCHEMA)
}

/// Index up to [`BATCH`] new or updated datapoints; `true` when more remain.
pub(crate) fn sync(c: &mut Connection) -> rusqlite::Result<bool> {
    let (seq_mark, updated_mark): (i64, String) = c
        .query_row(
            "SELECT seq, updated_at FROM ui_sync WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, String::new()));
    let last_seq: i64 = c.query_row("SELECT coalesce(max(seq), 0) FROM datapoints", [], |r| {
        r.get(0)
    })?;
    let last_update: Option<String> = c.query_row(
        "SELECT max(updated_at) FROM datapoints WHERE updated_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    let updates_pending = last_update.as_deref().is_some_and(|u| *u > *updated_mark);
    if last_seq <= seq_mark && !updates_pending {
        return Ok(false);
    }
    let tx = c.transaction()?;
    let mut configs = ConfigNames::default();
    let mut new_seq = seq_mark;
    let mut count = 0usize;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT seq, id, project_id, session_id, parent_id, body, created_at
             FROM datapoints WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![seq_mark, BATCH as i64])?;
        while let Some(r) = rows.next()? {
            let row = RowRef::read(r)?;
            write_facts(&tx, &mut configs, &row)?;
            new_seq = row.seq;
            count += 1;
        }
    }
    let mut new_updated = updated_mark.clone();
    {
        // Rows completed by a PATCH after they were indexed (steps get their duration so).
        let mut stmt = tx.prepare_cached(
            "SELECT seq, id, project_id, session_id, parent_id, body, created_at, updated_at
             FROM datapoints WHERE updated_at IS NOT NULL AND updated_at > ?1 AND seq <= ?2
             ORDER BY updated_at LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![updated_mark, new_seq, BATCH as i64])?;
        while let Some(r) = rows.next()? {
            let updated: String = r.get(7)?;
            write_facts(&tx, &mut configs, &RowRef::read(r)?)?;
            new_updated = updated;
            count += 1;
        }
    }
    tx.execute(
        "INSERT INTO ui_sync (id, seq, updated_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
        params![new_seq, new_updated],
    )?;
    tx.commit()?;
    Ok(count >= BATCH)
}

struct RowRef {
    seq: i64,
    id: String,
    project_id: Option<String>,
    session_id: Option<String>,
    parent_id: Option<String>,
    body: String,
    created_at: String,
}

impl RowRef {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RowRef {
            seq: r.get(0)?,
            id: r.get(1)?,
            project_id: r.get(2)?,
            session_id: r.get(3)?,
            parent_id: r.get(4)?,
            body: r.get(5)?,
            created_at: r.get(6)?,
        })
    }
}

/// `config_id` → (model, name) of the saved model configs, looked up once per sync.
#[derive(Default)]
struct ConfigNames(HashMap<String, (Option<String>, Option<String>)>);

impl ConfigNames {
    fn get(
        &mut self,
        c: &Connection,
        id: &str,
    ) -> rusqlite::Result<(Option<String>, Option<String>)> {
        if let Some(v) = self.0.get(id) {
            return Ok(v.clone());
        }
        let body: Option<String> = c
            .prepare_cached("SELECT body FROM model_configs WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let v = body
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .map(|b| (str_of(&b, "model"), str_of(&b, "name")))
            .unwrap_or_default();
        self.0.insert(id.to_owned(), v.clone());
        Ok(v)
    }
}

pub(crate) fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Unix milliseconds of an RFC 3339 time.
pub(crate) fn unix_ms(t: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// What the UI needs of one stored log.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Facts {
    pub(crate) kind: &'static str,
    pub(crate) name: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) config_id: Option<String>,
    pub(crate) start_ms: Option<i64>,
    pub(crate) duration: Option<f64>,
    pub(crate) ttft: Option<f64>,
    pub(crate) prompt_tokens: Option<i64>,
    pub(crate) output_tokens: Option<i64>,
    pub(crate) cost: Option<f64>,
    pub(crate) error: bool,
    pub(crate) preview: Option<String>,
}

/// Time to first chunk of a log, in seconds: the capture writes it in the metadata.
pub(crate) fn ttft_of(body: &Value) -> Option<f64> {
    body.get("metadata")
        .and_then(|m| m.get(TTFT_KEY))
        .or_else(|| body.get("time_to_first_chunk"))
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0)
}

/// The metadata key of the time to first chunk (seconds), named as the span attribute.
pub(crate) const TTFT_KEY: &str = "gen_ai.response.time_to_first_chunk";

pub(crate) fn facts(body: &Value, created_at: &str) -> Facts {
    let config = body.get("config");
    let config_type = config.and_then(|c| c.get("type")).and_then(Value::as_str);
    let config_id = str_of(body, "config_id");
    let kind = match config_type {
        Some("model") => "model",
        Some("tool") => "tool",
        _ if config_id.is_some() => "model",
        _ => "other",
    };
    let duration = body
        .get("duration")
        .and_then(Value::as_f64)
        .filter(|d| d.is_finite() && *d >= 0.0);
    let mut start_ms = unix_ms(created_at);
    // The endpoint's own completions are stored when they end: move them to their start.
    if body.get("sample_index").is_some() {
        if let (Some(s), Some(d)) = (start_ms, duration) {
            start_ms = Some(s - (d * 1e3) as i64);
        }
    }
    let cost = match (
        body.get("prompt_cost").and_then(Value::as_f64),
        body.get("output_cost").and_then(Value::as_f64),
    ) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
    let error = body
        .get("error")
        .is_some_and(|e| !e.is_null() && e.as_str() != Some(""));
    let preview = body
        .get("output")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| preview(s, PREVIEW_CHARS));
    Facts {
        kind,
        name: config.and_then(|c| str_of(c, "name")),
        model: config.and_then(|c| str_of(c, "model")),
        config_id,
        start_ms,
        duration,
        ttft: ttft_of(body),
        prompt_tokens: body.get("prompt_tokens").and_then(Value::as_i64),
        output_tokens: body.get("output_tokens").and_then(Value::as_i64),
        cost,
        error,
        preview,
    }
}

/// The first `n` characters of `s` on one line, with `…` when cut.
pub(crate) fn preview(s: &str, n: usize) -> String {
    let mut out: String = s
        .chars()
        .take(n)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

/// The text a free-text search finds a log by: ids, names, model, messages, output, error,
/// inputs and metadata values (at most [`MAX_TEXT`] bytes).
fn search_text(row: &RowRef, body: &Value) -> String {
    let mut text = String::new();
    let mut push = |s: &str| {
        if text.len() < MAX_TEXT && !s.is_empty() {
            text.push_str(s);
            text.push('\n');
        }
    };
    push(&row.id);
    for key in [
        "reference_id",
        "session_reference_id",
        "error",
        "output",
        "user",
    ] {
        if let Some(s) = body.get(key).and_then(Value::as_str) {
            push(s);
        }
    }
    if let Some(c) = body.get("config") {
        for key in ["name", "model", "provider"] {
            if let Some(s) = c.get(key).and_then(Value::as_str) {
                push(s);
            }
        }
    }
    for key in ["messages", "inputs", "metadata"] {
        if let Some(v) = body.get(key) {
            strings(v, &mut push);
        }
    }
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

fn strings(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|v| strings(v, f)),
        Value::Object(o) => o.values().for_each(|v| strings(v, f)),
        _ => {}
    }
}

fn write_facts(c: &Connection, configs: &mut ConfigNames, row: &RowRef) -> rusqlite::Result<()> {
    let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    let mut f = facts(&body, &row.created_at);
    if let Some(id) = &f.config_id {
        let (model, name) = configs.get(c, id)?;
        f.model = f.model.or(model);
        f.name = f.name.or(name);
    }
    // A log indexed again (completed by a PATCH) leaves the roll-ups first.
    let old = c
        .prepare_cached(
            "SELECT project_id, start_ms, model, dur_bin, prompt_tokens, output_tokens, cost, error
             FROM ui_logs WHERE seq = ?1 AND kind = 'model'",
        )?
        .query_row([row.seq], |r| {
            Ok(Rolled {
                project_id: r.get(0)?,
                start_ms: r.get(1)?,
                model: r.get(2)?,
                dur_bin: r.get(3)?,
                tokens: r.get::<_, Option<i64>>(4)?.unwrap_or(0)
                    + r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                cost: r.get::<_, Option<f64>>(6)?.unwrap_or(0.0),
                error: r.get(7)?,
            })
        })
        .optional()?;
    if let Some(old) = old {
        roll(c, &old, -1)?;
    }
    if f.kind == "model" {
        let new = Rolled {
            project_id: row.project_id.clone(),
            start_ms: f.start_ms,
            model: f.model.clone(),
            dur_bin: f.duration.map(super::chart::duration_bin),
            tokens: f.prompt_tokens.unwrap_or(0) + f.output_tokens.unwrap_or(0),
            cost: f.cost.unwrap_or(0.0),
            error: f.error,
        };
        roll(c, &new, 1)?;
    }
    c.prepare_cached(
        "INSERT OR REPLACE INTO ui_logs (seq, id, project_id, session_id, parent_id, kind, name,
            model, config_id, start_ms, duration, dur_bin, ttft, prompt_tokens, output_tokens,
            cost, error, preview)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        row.seq,
        row.id,
        row.project_id,
        row.session_id,
        row.parent_id,
        f.kind,
        f.name,
        f.model,
        f.config_id,
        f.start_ms,
        f.duration,
        f.duration.map(super::chart::duration_bin),
        f.ttft,
        f.prompt_tokens,
        f.output_tokens,
        f.cost,
        f.error,
        f.preview,
    ])?;
    c.prepare_cached("DELETE FROM ui_search WHERE rowid = ?1")?
        .execute([row.seq])?;
    c.prepare_cached("INSERT INTO ui_search (rowid, text) VALUES (?1, ?2)")?
        .execute(params![row.seq, search_text(row, &body)])?;
    Ok(())
}

/// What an LLM call adds to the hourly roll-ups.
struct Rolled {
    project_id: Option<String>,
    start_ms: Option<i64>,
    model: Option<String>,
    dur_bin: Option<i64>,
    tokens: i64,
    cost: f64,
    error: bool,
}

/// Add (`sign` 1) or remove (`sign` -1) a call from the roll-ups of its hour.
fn roll(c: &Connection, r: &Rolled, sign: i64) -> rusqlite::Result<()> {
    let (Some(project), Some(start)) = (&r.project_id, r.start_ms) else {
        return Ok(());
    };
    let hour = start - start.rem_euclid(3_600_000);
    c.prepare_cached(
        "INSERT INTO ui_rollup_calls (project_id, hour_ms, model, calls, tokens, cost, errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (project_id, hour_ms, model) DO UPDATE SET
            calls = calls + excluded.calls, tokens = tokens + excluded.tokens,
            cost = cost + excluded.cost, errors = errors + excluded.errors",
    )?
    .execute(params![
        project,
        hour,
        r.model.as_deref().unwrap_or("unknown"),
        sign,
        sign * r.tokens,
        sign as f64 * r.cost,
        sign * i64::from(r.error),
    ])?;
    if let Some(bin) = r.dur_bin {
        c.prepare_cached(
            "INSERT INTO ui_rollup_latency (project_id, hour_ms, dur_bin, calls)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (project_id, hour_ms, dur_bin) DO UPDATE SET calls = calls + excluded.calls",
        )?
        .execute(params![project, hour, bin, sign])?;
    }
    Ok(())
}

/// A free-text query as an FTS5 expression: each word a quoted prefix term, all required,
/// so that user input never reaches FTS5's query syntax.
pub(crate) fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_of_a_captured_call() {
        let body = json!({
            "config": {"type": "model", "model": "gpt-4o-mini", "provider": "openai"},
            "duration": 0.5, "prompt_tokens": 10, "output_tokens": 5,
            "prompt_cost": 0.25, "output_cost": 0.5, "output": "hello",
            "metadata": {"gen_ai.response.time_to_first_chunk": 0.125}
        });
        let f = facts(&body, "2026-01-01T00:00:01.000Z");
        assert_eq!(f.kind, "model");
        assert_eq!(f.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(f.start_ms, Some(1_767_225_601_000));
        assert_eq!(f.ttft, Some(0.125));
        assert_eq!(f.cost, Some(0.75));
        assert!(!f.error);
        assert_eq!(f.preview.as_deref(), Some("hello"));
    }

    #[test]
    fn server_completions_start_before_they_are_stored() {
        let body = json!({"config_id": "config_1", "duration": 2.0, "sample_index": 0});
        let f = facts(&body, "2026-01-01T00:00:02Z");
        assert_eq!(f.kind, "model");
        assert_eq!(f.start_ms, Some(1_767_225_600_000));
    }

    #[test]
    fn fts_query_quotes_every_word() {
        assert_eq!(
            fts_query("Lisbon \"OR\" x*").as_deref(),
            Some("\"Lisbon\"* \"OR\"* \"x\"*")
        );
        assert_eq!(fts_query("  ()* "), None);
    }
}
