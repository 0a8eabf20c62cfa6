//! The SQL of the pages, over the UI's facts (`ui_logs`, see [`super::index`]) and the
//! endpoint's own tables. Every list is paginated (one row more than a page is read, to
//! know whether a next page exists); nothing scans stored bodies.

use std::collections::HashMap;

use rusqlite::types::Value as Sql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::Serialize;

use super::chart::{Agg, Grid, LatencyCount, ModelUse};
use super::index::fts_query;

/// Rows per page of every list.
pub(crate) const PAGE: i64 = 50;

/// Most logs shown in one session's tree.
pub(crate) const MAX_SESSION_LOGS: i64 = 2000;

/// The filters of the sessions page, as they come in the query string (empty = unset).
#[derive(Clone, Debug, Default, serde::Deserialize, Serialize)]
pub(crate) struct SessionFilter {
    pub(crate) project: Option<String>,
    pub(crate) range: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) errors: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) page: Option<i64>,
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl SessionFilter {
    pub(crate) fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, 1_000_000)
    }

    /// The same filters on another page, as a query string.
    pub(crate) fn query_for_page(&self, page: i64) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("project", &self.project),
            ("range", &self.range),
            ("from", &self.from),
            ("to", &self.to),
            ("model", &self.model),
            ("errors", &self.errors),
            ("q", &self.q),
        ] {
            if let Some(v) = set(v) {
                s.append_pair(k, v);
            }
        }
        if page > 1 {
            s.append_pair("page", &page.to_string());
        }
        s.finish()
    }

    /// The lower time bound of `range` (`1h`, `24h`, `7d`, `30d`) or `from` (a date).
    fn since(&self, now_ms: i64) -> Option<String> {
        let hours = match set(&self.range) {
            Some("1h") => Some(1),
            Some("24h") => Some(24),
            Some("7d") => Some(24 * 7),
            Some("30d") => Some(24 * 30),
            _ => None,
        };
        match hours {
            Some(h) => Some(rfc3339_ms(now_ms - h * 3_600_000)),
            None => set(&self.from).filter(|d| is_date(d)).map(str::to_owned),
        }
    }

    /// The upper bound of `to` (a date, inclusive).
    fn until(&self) -> Option<String> {
        set(&self.to)
            .filter(|d| is_date(d))
            .map(|d| format!("{d}T23:59:59.999999Z"))
    }
}

/// `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Totals over a set of logs.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Totals {
    pub(crate) logs: i64,
    pub(crate) calls: i64,
    pub(crate) steps: i64,
    pub(crate) prompt_tokens: i64,
    pub(crate) output_tokens: i64,
    pub(crate) tokens: i64,
    pub(crate) cost: Option<f64>,
    pub(crate) errors: i64,
    pub(crate) start_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
    pub(crate) duration: Option<f64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) reference_id: Option<String>,
    pub(crate) project_id: Option<String>,
    pub(crate) project: Option<String>,
    pub(crate) created_at: String,
    pub(crate) totals: Totals,
}

#[derive(Debug, Serialize)]
pub(crate) struct Named {
    pub(crate) id: String,
    pub(crate) name: String,
}

pub(crate) fn projects(c: &Connection) -> rusqlite::Result<Vec<Named>> {
    let mut stmt = c.prepare_cached("SELECT id, name FROM projects ORDER BY name")?;
    let rows = stmt.query_map([], |r| {
        Ok(Named {
            id: r.get(0)?,
            name: r.get(1)?,
        })
    })?;
    rows.collect()
}

pub(crate) fn models(c: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT model FROM ui_logs WHERE model IS NOT NULL GROUP BY model ORDER BY model LIMIT 200",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// A page of sessions, newest first, and whether there are more.
pub(crate) fn sessions(
    c: &Connection,
    f: &SessionFilter,
) -> rusqlite::Result<(Vec<SessionRow>, bool)> {
    let mut sql = String::from(
        "SELECT s.id, s.reference_id, s.project_id, p.name, s.created_at
         FROM sessions s LEFT JOIN projects p ON p.id = s.project_id WHERE 1 = 1",
    );
    let mut args: Vec<Sql> = Vec::new();
    if let Some(p) = set(&f.project) {
        sql.push_str(" AND s.project_id = ?");
        args.push(Sql::Text(p.to_owned()));
    }
    if let Some(since) = f.since(now_ms()) {
        sql.push_str(" AND s.created_at >= ?");
        args.push(Sql::Text(since));
    }
    if let Some(until) = f.until() {
        sql.push_str(" AND s.created_at <= ?");
        args.push(Sql::Text(until));
    }
    if let Some(m) = set(&f.model) {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM ui_logs l WHERE l.model = ? AND l.session_id = s.id)",
        );
        args.push(Sql::Text(m.to_owned()));
    }
    if set(&f.errors).is_some() {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM ui_logs l WHERE l.session_id = s.id AND l.error = 1)",
        );
    }
    if let Some(q) = set(&f.q) {
        let like = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        sql.push_str(" AND (s.id = ? OR s.reference_id LIKE ? ESCAPE '\\'");
        args.push(Sql::Text(q.to_owned()));
        args.push(Sql::Text(like));
        if let Some(fts) = fts_query(q) {
            sql.push_str(
                " OR s.id IN (SELECT l.session_id FROM ui_search JOIN ui_logs l ON l.seq = ui_search.rowid
                              WHERE ui_search MATCH ?)",
            );
            args.push(Sql::Text(fts));
        }
        sql.push(')');
    }
    sql.push_str(" ORDER BY s.created_at DESC, s.id DESC LIMIT ? OFFSET ?");
    args.push(Sql::Integer(PAGE + 1));
    args.push(Sql::Integer((f.page() - 1) * PAGE));
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt
        .query_map(params_from_iter(args), |r| {
            Ok(SessionRow {
                id: r.get(0)?,
                reference_id: r.get(1)?,
                project_id: r.get(2)?,
                project: r.get(3)?,
                created_at: r.get(4)?,
                totals: Totals::default(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut totals = session_totals(c, &ids)?;
    for r in &mut rows {
        if let Some(t) = totals.remove(&r.id) {
            r.totals = t;
        }
    }
    Ok((rows, more))
}

const TOTALS: &str = "count(*), sum(kind = 'model'), sum(kind = 'tool'), \
    coalesce(sum(prompt_tokens), 0), coalesce(sum(output_tokens), 0), sum(cost), sum(error), \
    min(start_ms), max(start_ms + coalesce(duration, 0) * 1000)";

fn totals_from(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Totals> {
    let prompt_tokens: i64 = r.get(at + 3)?;
    let output_tokens: i64 = r.get(at + 4)?;
    let start_ms: Option<i64> = r.get(at + 7)?;
    let end: Option<f64> = r.get(at + 8)?;
    let end_ms = end.map(|e| e as i64);
    Ok(Totals {
        logs: r.get(at)?,
        calls: r.get::<_, Option<i64>>(at + 1)?.unwrap_or(0),
        steps: r.get::<_, Option<i64>>(at + 2)?.unwrap_or(0),
        prompt_tokens,
        output_tokens,
        tokens: prompt_tokens + output_tokens,
        cost: r.get(at + 5)?,
        errors: r.get::<_, Option<i64>>(at + 6)?.unwrap_or(0),
        start_ms,
        end_ms,
        duration: match (start_ms, end_ms) {
            (Some(s), Some(e)) => Some((e - s).max(0) as f64 / 1e3),
            _ => None,
        },
    })
}

fn session_totals(c: &Connection, ids: &[&str]) -> rusqlite::Result<HashMap<String, Totals>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let marks = vec!["?"; ids.len()].join(",");
    let mut stmt = c.prepare(&format!(
        "SELECT session_id, {TOTALS} FROM ui_logs WHERE session_id IN ({marks}) GROUP BY session_id"
    ))?;
    let rows = stmt.query_map(params_from_iter(ids), |r| {
        Ok((r.get::<_, String>(0)?, totals_from(r, 1)?))
    })?;
    rows.collect()
}

#[derive(Debug)]
pub(crate) struct SessionHead {
    pub(crate) id: String,
    pub(crate) reference_id: Option<String>,
    pub(crate) project_id: Option<String>,
    pub(crate) project: Option<String>,
    pub(crate) created_at: String,
}

pub(crate) fn session_head(c: &Connection, id: &str) -> rusqlite::Result<Option<SessionHead>> {
    c.prepare_cached(
        "SELECT s.id, s.reference_id, s.project_id, p.name, s.created_at
         FROM sessions s LEFT JOIN projects p ON p.id = s.project_id WHERE s.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(SessionHead {
            id: r.get(0)?,
            reference_id: r.get(1)?,
            project_id: r.get(2)?,
            project: r.get(3)?,
            created_at: r.get(4)?,
        })
    })
    .optional()
}

/// One log's facts, as lists and trees show them.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct LogRow {
    pub(crate) id: String,
    pub(crate) session_id: Option<String>,
    pub(crate) parent_id: Option<String>,
    pub(crate) kind: String,
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

const LOG_ROW: &str = "id, session_id, parent_id, kind, name, model, config_id, start_ms, \
    duration, ttft, prompt_tokens, output_tokens, cost, error, preview";

fn log_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogRow> {
    Ok(LogRow {
        id: r.get(0)?,
        session_id: r.get(1)?,
        parent_id: r.get(2)?,
        kind: r.get(3)?,
        name: r.get(4)?,
        model: r.get(5)?,
        config_id: r.get(6)?,
        start_ms: r.get(7)?,
        duration: r.get(8)?,
        ttft: r.get(9)?,
        prompt_tokens: r.get(10)?,
        output_tokens: r.get(11)?,
        cost: r.get(12)?,
        error: r.get(13)?,
        preview: r.get(14)?,
    })
}

/// The logs of a session in creation order (at most [`MAX_SESSION_LOGS`]).
pub(crate) fn session_logs(c: &Connection, id: &str) -> rusqlite::Result<Vec<LogRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {LOG_ROW} FROM ui_logs WHERE session_id = ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![id, MAX_SESSION_LOGS], log_row)?;
    rows.collect()
}

pub(crate) fn log_facts(c: &Connection, id: &str) -> rusqlite::Result<Option<LogRow>> {
    c.prepare_cached(&format!("SELECT {LOG_ROW} FROM ui_logs WHERE id = ?1"))?
        .query_row([id], log_row)
        .optional()
}

#[derive(Debug, Serialize)]
pub(crate) struct ProjectRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: String,
    pub(crate) logs: i64,
    pub(crate) sessions: i64,
}

pub(crate) fn project_list(c: &Connection) -> rusqlite::Result<Vec<ProjectRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT p.id, p.name, p.created_at,
            (SELECT count(*) FROM ui_logs l WHERE l.project_id = p.id),
            (SELECT count(*) FROM sessions s WHERE s.project_id = p.id)
         FROM projects p ORDER BY p.name LIMIT 500",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ProjectRow {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
            logs: r.get(3)?,
            sessions: r.get(4)?,
        })
    })?;
    rows.collect()
}

pub(crate) fn project_name(c: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT name FROM projects WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()
}

/// An hour in milliseconds: the grain of the roll-ups.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// First and last start of project `id`'s LLM calls since `since_ms`: by the hour from
/// the roll-up, then exact within those hours.
pub(crate) fn project_span(
    c: &Connection,
    id: &str,
    since_ms: i64,
) -> rusqlite::Result<(Option<i64>, Option<i64>)> {
    let (first_hour, last_hour): (Option<i64>, Option<i64>) = c
        .prepare_cached(
            "SELECT min(hour_ms), max(hour_ms) FROM ui_rollup_calls
             WHERE project_id = ?1 AND hour_ms >= ?2",
        )?
        .query_row(params![id, hour_of(since_ms)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(first_hour), Some(last_hour)) = (first_hour, last_hour) else {
        return Ok((None, None));
    };
    let exact = |sql: &str, from: i64| -> rusqlite::Result<Option<i64>> {
        c.prepare_cached(sql)?
            .query_row(params![id, from.max(since_ms), from + HOUR_MS], |r| {
                r.get(0)
            })
    };
    Ok((
        exact(
            "SELECT min(start_ms) FROM ui_logs WHERE project_id = ?1 AND kind = 'model'
             AND start_ms >= ?2 AND start_ms < ?3",
            first_hour,
        )?,
        exact(
            "SELECT max(start_ms) FROM ui_logs WHERE project_id = ?1 AND kind = 'model'
             AND start_ms >= ?2 AND start_ms < ?3",
            last_hour,
        )?,
    ))
}

fn hour_of(ms: i64) -> i64 {
    ms.saturating_sub(ms.rem_euclid(HOUR_MS))
}

/// Project `id`'s LLM calls since `since_ms`, summed per bucket of `grid`, and their
/// latency counts per bucket and bin. Buckets of an hour or more read the hourly
/// roll-ups (a few rows per hour, whatever the number of calls; `since_ms` is then taken
/// to its hour); smaller ones read the calls themselves (at most 48 buckets of 15 min).
pub(crate) fn project_aggregates(
    c: &Connection,
    id: &str,
    since_ms: i64,
    grid: Grid,
) -> rusqlite::Result<(Vec<Agg>, Vec<LatencyCount>)> {
    let hourly = grid.step % HOUR_MS == 0;
    let (sums_sql, latency_sql, since) = if hourly {
        (
            "SELECT (hour_ms - ?3) / ?4, sum(calls), sum(tokens), sum(cost), sum(errors)
             FROM ui_rollup_calls WHERE project_id = ?1 AND hour_ms >= ?2 GROUP BY 1",
            "SELECT (hour_ms - ?3) / ?4, dur_bin, sum(calls)
             FROM ui_rollup_latency WHERE project_id = ?1 AND hour_ms >= ?2 GROUP BY 1, 2",
            hour_of(since_ms),
        )
    } else {
        (
            "SELECT (start_ms - ?3) / ?4, count(*),
                    coalesce(sum(prompt_tokens), 0) + coalesce(sum(output_tokens), 0),
                    coalesce(sum(cost), 0), sum(error)
             FROM ui_logs WHERE project_id = ?1 AND kind = 'model' AND start_ms >= ?2
             GROUP BY 1",
            "SELECT (start_ms - ?3) / ?4, dur_bin, count(*)
             FROM ui_logs WHERE project_id = ?1 AND kind = 'model' AND start_ms >= ?2
                AND dur_bin IS NOT NULL
             GROUP BY 1, 2",
            since_ms,
        )
    };
    let args = params![id, since, grid.first, grid.step];
    let sums = c
        .prepare_cached(sums_sql)?
        .query_map(args, |r| {
            Ok(Agg {
                bucket: r.get(0)?,
                calls: r.get(1)?,
                tokens: r.get(2)?,
                cost: r.get(3)?,
                errors: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let latency = c
        .prepare_cached(latency_sql)?
        .query_map(args, |r| {
            Ok(LatencyCount {
                bucket: r.get(0)?,
                bin: r.get(1)?,
                calls: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((sums, latency))
}

/// The ten models project `id` called most since `since_ms` (by the hour).
pub(crate) fn project_models(
    c: &Connection,
    id: &str,
    since_ms: i64,
) -> rusqlite::Result<Vec<ModelUse>> {
    let mut stmt = c.prepare_cached(
        "SELECT model, sum(calls), sum(tokens), sum(cost), sum(errors)
         FROM ui_rollup_calls WHERE project_id = ?1 AND hour_ms >= ?2
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
    )?;
    let rows = stmt.query_map(params![id, hour_of(since_ms)], |r| {
        Ok(ModelUse {
            model: r.get(0)?,
            calls: r.get(1)?,
            tokens: r.get(2)?,
            cost: r.get(3)?,
            errors: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// The latest logs of a project (any kind), a page of them.
pub(crate) fn project_recent(c: &Connection, id: &str) -> rusqlite::Result<Vec<LogRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {LOG_ROW} FROM ui_logs WHERE project_id = ?1 ORDER BY start_ms DESC LIMIT 20"
    ))?;
    let rows = stmt.query_map([id], log_row)?;
    rows.collect()
}

#[derive(Debug, Serialize)]
pub(crate) struct ConfigRow {
    pub(crate) id: String,
    pub(crate) project_id: Option<String>,
    pub(crate) project: Option<String>,
    pub(crate) created_at: String,
    pub(crate) name: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) logs: i64,
    #[serde(skip)]
    pub(crate) body: String,
}

const CONFIG_ROW: &str = "m.id, m.project_id, p.name, m.created_at, m.body, \
    (SELECT count(*) FROM ui_logs l WHERE l.config_id = m.id)";

fn config_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConfigRow> {
    let body: String = r.get(4)?;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    Ok(ConfigRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        project: r.get(2)?,
        created_at: r.get(3)?,
        name: super::index::str_of(&v, "name"),
        model: super::index::str_of(&v, "model"),
        provider: super::index::str_of(&v, "provider"),
        logs: r.get(5)?,
        body,
    })
}

pub(crate) fn config_list(c: &Connection, page: i64) -> rusqlite::Result<(Vec<ConfigRow>, bool)> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {CONFIG_ROW} FROM model_configs m LEFT JOIN projects p ON p.id = m.project_id
         ORDER BY m.created_at DESC, m.id DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let mut rows = stmt
        .query_map(params![PAGE + 1, (page - 1) * PAGE], config_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    Ok((rows, more))
}

pub(crate) fn config(c: &Connection, id: &str) -> rusqlite::Result<Option<ConfigRow>> {
    c.prepare_cached(&format!(
        "SELECT {CONFIG_ROW} FROM model_configs m LEFT JOIN projects p ON p.id = m.project_id
         WHERE m.id = ?1"
    ))?
    .query_row([id], config_row)
    .optional()
}

/// A page of the logs made with config `id`, newest first.
pub(crate) fn config_logs(
    c: &Connection,
    id: &str,
    page: i64,
) -> rusqlite::Result<(Vec<LogRow>, bool)> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {LOG_ROW} FROM ui_logs WHERE config_id = ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let mut rows = stmt
        .query_map(params![id, PAGE + 1, (page - 1) * PAGE], log_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    Ok((rows, more))
}
