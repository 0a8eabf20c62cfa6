//! SQLite storage: projects, sessions, model configs and datapoints.
//!
//! One connection behind a mutex, used only inside `spawn_blocking` (never held across an
//! await). WAL journal with `synchronous=FULL`, so a committed transaction survives a crash
//! of the process or of the machine; every write is one transaction, committed before the
//! route answers.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::error::{body_loc, entry, ApiError};
use super::validate::scrub;
use super::Database;
use crate::api::{CreateLogResponse, JsonMap, LogRequest, UpdateLogRequest, ValidationError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    reference_id TEXT UNIQUE,
    project_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_configs (
    id TEXT PRIMARY KEY,
    project_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS datapoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT,
    session_id TEXT,
    parent_id TEXT,
    reference_id TEXT,
    -- reference ids are unique per session ('' = no session), so sessions never clash
    scope TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (scope, reference_id)
);
CREATE INDEX IF NOT EXISTS datapoints_session ON datapoints (session_id, seq);
CREATE INDEX IF NOT EXISTS datapoints_project ON datapoints (project_id, seq);
CREATE INDEX IF NOT EXISTS datapoints_reference ON datapoints (reference_id);
";

/// Log fields that carry payloads: not stored when `save` is false.
const PAYLOAD_FIELDS: &[&str] = &[
    "inputs",
    "messages",
    "output",
    "raw_output",
    "output_message",
    "provider_request",
    "provider_response",
    "stdout",
    "judgment",
];

/// The database handle.
pub(crate) struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    pub(crate) fn open(db: &Database) -> rusqlite::Result<Store> {
        let conn = match db {
            Database::Memory => Connection::open_in_memory()?,
            Database::Path(p) => Connection::open(p)?,
        };
        conn.busy_timeout(Duration::from_secs(5))?;
        if matches!(db, Database::Path(_)) {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(%mode, "humanloop-tracing server: WAL journal not available");
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        // Per-row statements are prepared once and reused: parsing their SQL again for
        // every row was a third of the cost of a logged row.
        conn.set_prepared_statement_cache_capacity(64);
        // 16 MiB of page cache (the default is 2 MiB): the right-hand pages of the indexes a
        // batch appends to stay in memory instead of being read back from the file.
        conn.pragma_update(None, "cache_size", -16384)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with the connection on the blocking pool.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` rolled its transaction back; the connection is still sound.
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|_| ApiError::internal("storage task failed"))?
    }
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// A new id: UUID v7, ordered by creation within the process, so that rows are appended at
/// the end of the `id` indexes. Random ids put every row of a batch on its own index page,
/// and a commit then writes hundreds of pages to the WAL (and checkpoints them again).
pub(crate) fn new_id(prefix: &str) -> String {
    let mut hex = [0u8; uuid::fmt::Simple::LENGTH];
    let hex = uuid::Uuid::now_v7().simple().encode_lower(&mut hex);
    let mut id = String::with_capacity(prefix.len() + 1 + hex.len());
    id.push_str(prefix);
    id.push('_');
    id.push_str(hex);
    id
}

/// Where a datapoint goes: what the request names, resolved against the database.
#[derive(Clone, Debug, Default)]
pub(crate) struct Placement {
    pub(crate) project_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) parent_id: Option<String>,
}

impl Placement {
    fn scope(&self) -> &str {
        self.session_id.as_deref().unwrap_or("")
    }
}

/// The routing fields of a log or completion request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Route<'a> {
    pub(crate) project: Option<&'a str>,
    pub(crate) project_id: Option<&'a str>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) session_reference_id: Option<&'a str>,
    pub(crate) parent_id: Option<&'a str>,
    pub(crate) parent_reference_id: Option<&'a str>,
}

impl<'a> Route<'a> {
    pub(crate) fn of_log(log: &'a LogRequest) -> Self {
        Route {
            project: log.project.as_deref(),
            project_id: log.project_id.as_deref(),
            session_id: log.session_id.as_deref(),
            session_reference_id: log.session_reference_id.as_deref(),
            parent_id: log.parent_id.as_deref(),
            parent_reference_id: log.parent_reference_id.as_deref(),
        }
    }
}

/// The row of a cached statement, if any.
fn row<T, P, F>(c: &Connection, sql: &str, params: P, f: F) -> rusqlite::Result<Option<T>>
where
    P: rusqlite::Params,
    F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
{
    c.prepare_cached(sql)?.query_row(params, f).optional()
}

pub(crate) fn project_named(c: &Connection, name: &str) -> rusqlite::Result<String> {
    if let Some(id) = row(c, "SELECT id FROM projects WHERE name = ?1", [name], |r| {
        r.get(0)
    })? {
        return Ok(id);
    }
    let id = new_id("pr");
    c.prepare_cached("INSERT INTO projects (id, name, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id, name, now()])?;
    Ok(id)
}

fn exists(c: &Connection, sql: &str, id: &str) -> rusqlite::Result<bool> {
    Ok(row(c, sql, [id], |_| Ok(()))?.is_some())
}

/// `Some(project_id)` when the session exists.
fn session_project(c: &Connection, id: &str) -> rusqlite::Result<Option<Option<String>>> {
    row(
        c,
        "SELECT project_id FROM sessions WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
}

/// The session with caller key `reference`, created if new.
fn session_by_reference(
    c: &Connection,
    reference: &str,
    project_id: Option<&str>,
) -> rusqlite::Result<(String, Option<String>)> {
    if let Some(found) = row(
        c,
        "SELECT id, project_id FROM sessions WHERE reference_id = ?1",
        [reference],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )? {
        return Ok(found);
    }
    let id = new_id("sesh");
    c.prepare_cached(
        "INSERT INTO sessions (id, reference_id, project_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, reference, project_id, now()])?;
    Ok((id, project_id.map(str::to_owned)))
}

/// What the current request did so far: the datapoints it created (a parent must come from
/// an earlier request) and the projects it resolved by name (looked up once per request).
#[derive(Debug, Default)]
pub(crate) struct ThisRequest {
    created: HashSet<String>,
    projects: Vec<(String, String)>,
}

impl ThisRequest {
    fn project_named(&mut self, c: &Connection, name: &str) -> rusqlite::Result<String> {
        if let Some((_, id)) = self.projects.iter().find(|(n, _)| n == name) {
            return Ok(id.clone());
        }
        let id = project_named(c, name)?;
        self.projects.push((name.to_owned(), id.clone()));
        Ok(id)
    }
}

/// Resolve `route` into a [`Placement`], creating projects and sessions named for the first
/// time. Problems are pushed to `errors` (located under `prefix`) and give `None`.
pub(crate) fn place(
    c: &Connection,
    route: Route<'_>,
    prefix: &[Value],
    default_project: bool,
    this_request: &mut ThisRequest,
    errors: &mut Vec<ValidationError>,
) -> rusqlite::Result<Option<Placement>> {
    let before = errors.len();
    let mut p = Placement::default();
    if let Some(id) = route.project_id {
        if exists(c, "SELECT 1 FROM projects WHERE id = ?1", id)? {
            p.project_id = Some(id.to_owned());
        } else {
            errors.push(entry(
                body_loc(prefix, "project_id"),
                format!("unknown project_id '{id}'"),
                "value_error.unknown_reference",
            ));
        }
    } else if let Some(name) = route.project {
        p.project_id = Some(this_request.project_named(c, name)?);
    }
    if let Some(id) = route.session_id {
        match session_project(c, id)? {
            Some(project) => {
                p.session_id = Some(id.to_owned());
                p.project_id = p.project_id.or(project);
            }
            None => errors.push(entry(
                body_loc(prefix, "session_id"),
                format!("unknown session_id '{id}'"),
                "value_error.unknown_reference",
            )),
        }
    }
    if p.project_id.is_none() && default_project && errors.len() == before {
        p.project_id = Some(this_request.project_named(c, "default")?);
    }
    if let Some(reference) = route.session_reference_id {
        let (id, project) = session_by_reference(c, reference, p.project_id.as_deref())?;
        p.session_id = Some(id);
        p.project_id = p.project_id.or(project);
    }
    if let Some(id) = route.parent_id {
        let parent: Option<Option<String>> = row(
            c,
            "SELECT session_id FROM datapoints WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        match parent {
            Some(session) if !this_request.created.contains(id) => {
                p.parent_id = Some(id.to_owned());
                p.session_id = p.session_id.or(session);
            }
            _ => errors.push(entry(
                body_loc(prefix, "parent_id"),
                format!("unknown parent_id '{id}': no datapoint with this id was logged in an earlier request"),
                "value_error.unknown_reference",
            )),
        }
    }
    if let Some(reference) = route.parent_reference_id {
        let mut found: Option<(String, Option<String>)> = row(
            c,
            "SELECT id, session_id FROM datapoints WHERE scope = ?1 AND reference_id = ?2",
            params![p.scope(), reference],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if found.is_none() && p.session_id.is_none() {
            // No session named: accept a reference that is unique across sessions.
            let mut stmt = c.prepare_cached(
                "SELECT id, session_id FROM datapoints WHERE reference_id = ?1 LIMIT 2",
            )?;
            let rows = stmt
                .query_map([reference], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, Option<String>)>>>()?;
            if rows.len() == 1 {
                found = rows.into_iter().next();
            }
        }
        match found {
            Some((id, session)) if !this_request.created.contains(&id) => {
                p.parent_id = Some(id);
                p.session_id = p.session_id.or(session);
            }
            _ => {
                let within = match &p.session_id {
                    Some(s) => format!(" in session '{s}'"),
                    None => String::new(),
                };
                errors.push(entry(
                    body_loc(prefix, "parent_reference_id"),
                    format!(
                        "unknown parent_reference_id '{reference}': no datapoint with this reference_id was logged{within} in an earlier request"
                    ),
                    "value_error.unknown_reference",
                ));
            }
        }
    }
    Ok((errors.len() == before).then_some(p))
}

/// Store one datapoint.
pub(crate) fn insert_datapoint(
    c: &Connection,
    id: &str,
    p: &Placement,
    reference_id: Option<&str>,
    body: &Value,
    created_at: &str,
) -> rusqlite::Result<()> {
    insert_datapoint_text(c, id, p, reference_id, &body.to_string(), created_at)?;
    Ok(())
}

/// Store one datapoint whose body is already JSON text (made by [`storable_log`]); `false`
/// when its session already holds a datapoint with `reference_id` (nothing is stored).
fn insert_datapoint_text(
    c: &Connection,
    id: &str,
    p: &Placement,
    reference_id: Option<&str>,
    body: &str,
    created_at: &str,
) -> rusqlite::Result<bool> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO datapoints (id, project_id, session_id, parent_id, reference_id, scope, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (scope, reference_id) DO NOTHING",
        )?
        .execute(params![
        id,
        p.project_id,
        p.session_id,
        p.parent_id,
        reference_id,
        p.scope(),
        body,
        created_at
    ])?;
    Ok(inserted == 1)
}

/// Prepare a body for storage: no secrets, no payloads when `save` is false.
pub(crate) fn storable(mut body: Value) -> Value {
    scrub(&mut body);
    if let Value::Object(map) = &mut body {
        if map.get("save") == Some(&Value::Bool(false)) {
            for field in PAYLOAD_FIELDS {
                map.remove(*field);
            }
        }
    }
    body
}

/// The stored text of a log: [`storable`] applied, without building a `Value` tree when
/// there is nothing to remove (no payloads to drop, no key that may hold a secret).
pub(crate) fn storable_log(log: &LogRequest) -> serde_json::Result<String> {
    if log.save != Some(false) {
        let text = serde_json::to_string(log)?;
        if !may_name_secret(text.as_bytes()) {
            return Ok(text);
        }
    }
    Ok(storable(serde_json::to_value(log)?).to_string())
}

/// Whether `json` (compact `serde_json` output) may hold a key that [`scrub`] removes: a
/// quote followed by one of their names (any case, `-` for `_`) and a quote. Keys are
/// written verbatim between quotes, so none is missed; a string value that spells such a
/// name only costs the slow path.
fn may_name_secret(json: &[u8]) -> bool {
    crate::redact::STORED_SECRET_KEYS.named_in(json)
}

/// `POST /logs`: all or nothing, in one transaction.
pub(crate) fn create_logs(
    c: &mut Connection,
    logs: Vec<LogRequest>,
    many: bool,
) -> Result<Vec<CreateLogResponse>, ApiError> {
    let tx = c.transaction()?;
    let mut this_request = ThisRequest::default();
    // The ids created here are only looked at when a log of this request names a parent.
    let names_parents = logs
        .iter()
        .any(|l| l.parent_id.is_some() || l.parent_reference_id.is_some());
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(logs.len());
    // One timestamp for the rows of one request (one transaction).
    let at = now();
    for (i, log) in logs.into_iter().enumerate() {
        let prefix: Vec<Value> = if many {
            vec![json!("body"), json!(i)]
        } else {
            vec![json!("body")]
        };
        if let Some(config_id) = &log.config_id {
            if !exists(&tx, "SELECT 1 FROM model_configs WHERE id = ?1", config_id)? {
                errors.push(entry(
                    body_loc(&prefix, "config_id"),
                    format!("unknown config_id '{config_id}'"),
                    "value_error.unknown_reference",
                ));
            }
        }
        let Some(p) = place(
            &tx,
            Route::of_log(&log),
            &prefix,
            true,
            &mut this_request,
            &mut errors,
        )?
        else {
            continue;
        };
        let id = new_id("data");
        let body = storable_log(&log)
            .map_err(|e| ApiError::internal(format!("cannot encode the log: {e}")))?;
        let created_at = log.created_at.as_deref().unwrap_or(&at);
        let reference = log.reference_id.as_deref();
        if !insert_datapoint_text(&tx, &id, &p, reference, &body, created_at)? {
            // A retry (or a repeat in this request): answer the datapoint already stored.
            let (id, project_id, session_id) = row(
                &tx,
                "SELECT id, project_id, session_id FROM datapoints WHERE scope = ?1 AND reference_id = ?2",
                params![p.scope(), reference],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .ok_or_else(|| ApiError::internal("a conflicting datapoint vanished"))?;
            out.push(log_response(id, project_id, session_id));
            continue;
        }
        if names_parents {
            this_request.created.insert(id.clone());
        }
        out.push(log_response(id, p.project_id, p.session_id));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    tx.commit()?;
    Ok(out)
}

fn log_response(
    id: String,
    project_id: Option<String>,
    session_id: Option<String>,
) -> CreateLogResponse {
    CreateLogResponse {
        id,
        project_id: project_id.unwrap_or_default(),
        session_id,
        ..CreateLogResponse::default()
    }
}

const LOG_COLUMNS: &str =
    "id, project_id, session_id, parent_id, reference_id, body, created_at, updated_at";

fn log_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let body: String = r.get(5)?;
    let mut map = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => JsonMap::new(),
    };
    for (i, key) in [
        "id",
        "project_id",
        "session_id",
        "parent_id",
        "reference_id",
    ]
    .into_iter()
    .enumerate()
    {
        let v: Option<String> = r.get(i)?;
        map.insert(key.to_owned(), v.map_or(Value::Null, Value::String));
    }
    let created: String = r.get(6)?;
    map.insert("created_at".to_owned(), Value::String(created));
    let updated: Option<String> = r.get(7)?;
    if let Some(u) = updated {
        map.insert("updated_at".to_owned(), Value::String(u));
    }
    Ok(Value::Object(map))
}

pub(crate) fn get_log(c: &Connection, id: &str) -> Result<Value, ApiError> {
    c.query_row(
        &format!("SELECT {LOG_COLUMNS} FROM datapoints WHERE id = ?1"),
        [id],
        log_from_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found("log", id))
}

/// Filters of `GET /logs`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct LogFilter {
    pub(crate) project: Option<String>,
    pub(crate) project_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) session_reference_id: Option<String>,
    pub(crate) page: Option<u64>,
    pub(crate) size: Option<u64>,
}

pub(crate) fn list_logs(c: &Connection, f: &LogFilter) -> Result<Value, ApiError> {
    let mut clauses = Vec::new();
    let mut args: Vec<&str> = Vec::new();
    if let Some(v) = &f.project_id {
        clauses.push("project_id = ?");
        args.push(v);
    }
    if let Some(v) = &f.project {
        clauses.push("project_id = (SELECT id FROM projects WHERE name = ?)");
        args.push(v);
    }
    if let Some(v) = &f.session_id {
        clauses.push("session_id = ?");
        args.push(v);
    }
    if let Some(v) = &f.session_reference_id {
        clauses.push("session_id = (SELECT id FROM sessions WHERE reference_id = ?)");
        args.push(v);
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let size = f.size.unwrap_or(100).clamp(1, 1000);
    let page = f.page.unwrap_or(1).max(1);
    let total: i64 = c.query_row(
        &format!("SELECT COUNT(*) FROM datapoints {filter}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    let mut stmt = c.prepare(&format!(
        "SELECT {LOG_COLUMNS} FROM datapoints {filter} ORDER BY seq LIMIT {size} OFFSET {}",
        (page - 1).saturating_mul(size)
    ))?;
    let records = stmt
        .query_map(params_from_iter(args.iter()), log_from_row)?
        .collect::<rusqlite::Result<Vec<Value>>>()?;
    Ok(json!({ "records": records, "page": page, "size": size, "total": total }))
}

/// Which datapoint a PATCH names.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct PatchTarget {
    pub(crate) reference_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) session_reference_id: Option<String>,
}

fn find_by_reference(c: &Connection, t: &PatchTarget) -> Result<String, ApiError> {
    let Some(reference) = t.reference_id.as_deref().filter(|r| !r.is_empty()) else {
        return Err(ApiError::invalid(
            vec![json!("query"), json!("reference_id")],
            "field required",
            "value_error.missing",
        ));
    };
    let session = match (&t.session_id, &t.session_reference_id) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(r)) => c
            .query_row(
                "SELECT id FROM sessions WHERE reference_id = ?1",
                [r],
                |r| r.get(0),
            )
            .optional()?
            .or_else(|| Some(String::new())), // unknown session: nothing matches
        (None, None) => None,
    };
    let mut ids: Vec<String> = match &session {
        Some(s) => {
            let mut stmt =
                c.prepare("SELECT id FROM datapoints WHERE scope = ?1 AND reference_id = ?2")?;
            let rows = stmt.query_map(params![s, reference], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
        None => {
            let mut stmt =
                c.prepare("SELECT id FROM datapoints WHERE reference_id = ?1 LIMIT 2")?;
            let rows = stmt.query_map([reference], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    match ids.len() {
        0 => Err(ApiError::status(
            StatusCode::NOT_FOUND,
            format!("no log with reference_id '{reference}'"),
        )),
        1 => Ok(ids.remove(0)),
        _ => Err(ApiError::status(
            StatusCode::CONFLICT,
            format!("reference_id '{reference}' is used in several sessions: add session_id or session_reference_id"),
        )),
    }
}

/// `PATCH /logs/{id}` (`id`) or `PATCH /logs?reference_id=…` (`target`).
pub(crate) fn patch_log(
    c: &mut Connection,
    id: Option<String>,
    target: PatchTarget,
    patch: UpdateLogRequest,
) -> Result<Value, ApiError> {
    let tx = c.transaction()?;
    let id = match id {
        Some(id) => id,
        None => find_by_reference(&tx, &target)?,
    };
    let body: String = tx
        .query_row("SELECT body FROM datapoints WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| ApiError::not_found("log", &id))?;
    let mut map = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => JsonMap::new(),
    };
    let update = serde_json::to_value(&patch)
        .map_err(|e| ApiError::internal(format!("cannot encode the update: {e}")))?;
    if let Value::Object(fields) = update {
        for (k, v) in fields {
            // Placement is fixed at creation; everything else may be completed.
            if !matches!(
                k.as_str(),
                "id" | "project_id" | "session_id" | "parent_id" | "reference_id" | "created_at"
            ) {
                map.insert(k, v);
            }
        }
    }
    let stored = storable(Value::Object(map));
    tx.execute(
        "UPDATE datapoints SET body = ?1, updated_at = ?2 WHERE id = ?3",
        params![stored.to_string(), now(), id],
    )?;
    let log = get_log(&tx, &id)?;
    tx.commit()?;
    Ok(log)
}

/// `POST /sessions`: a new session, or the existing one for a known `reference_id`.
pub(crate) fn create_session(
    c: &mut Connection,
    project: Option<String>,
    project_id: Option<String>,
    reference_id: Option<String>,
) -> Result<String, ApiError> {
    let tx = c.transaction()?;
    let project_id = match (project_id, project) {
        (Some(id), _) => {
            if !exists(&tx, "SELECT 1 FROM projects WHERE id = ?1", &id)? {
                return Err(ApiError::invalid(
                    vec![json!("body"), json!("project_id")],
                    format!("unknown project_id '{id}'"),
                    "value_error.unknown_reference",
                ));
            }
            Some(id)
        }
        (None, Some(name)) => Some(project_named(&tx, &name)?),
        (None, None) => None,
    };
    let id = match reference_id {
        Some(r) => session_by_reference(&tx, &r, project_id.as_deref())?.0,
        None => {
            let id = new_id("sesh");
            tx.execute(
                "INSERT INTO sessions (id, project_id, created_at) VALUES (?1, ?2, ?3)",
                params![id, project_id, now()],
            )?;
            id
        }
    };
    tx.commit()?;
    Ok(id)
}

/// Deeper nesting than this is flattened to roots, so answers stay bounded.
const MAX_TREE_DEPTH: usize = 128;

/// `GET /sessions/{id}`: the session and its datapoints as a tree.
pub(crate) fn get_session(c: &Connection, id: &str) -> Result<Value, ApiError> {
    let (reference_id, project_id, created_at): (Option<String>, Option<String>, String) = c
        .query_row(
            "SELECT reference_id, project_id, created_at FROM sessions WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found("session", id))?;
    let mut stmt = c.prepare(&format!(
        "SELECT {LOG_COLUMNS} FROM datapoints WHERE session_id = ?1 ORDER BY seq"
    ))?;
    let logs = stmt
        .query_map([id], log_from_row)?
        .collect::<rusqlite::Result<Vec<Value>>>()?;
    Ok(json!({
        "id": id,
        "reference_id": reference_id,
        "project_id": project_id,
        "created_at": created_at,
        "datapoints": tree(logs),
    }))
}

/// Nest logs (in creation order) under their parents, without recursion. A parent is always
/// created before its children, so it comes earlier in the list.
fn tree(logs: Vec<Value>) -> Vec<Value> {
    let index: std::collections::HashMap<String, usize> = logs
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((l.get("id")?.as_str()?.to_owned(), i)))
        .collect();
    let mut parent: Vec<Option<usize>> = vec![None; logs.len()];
    let mut depth = vec![0usize; logs.len()];
    for (i, log) in logs.iter().enumerate() {
        let p = log
            .get("parent_id")
            .and_then(Value::as_str)
            .and_then(|p| index.get(p).copied())
            .filter(|&p| p < i && depth[p] < MAX_TREE_DEPTH);
        if let Some(p) = p {
            parent[i] = Some(p);
            depth[i] = depth[p] + 1;
        }
    }
    let mut children: Vec<Vec<Value>> = vec![Vec::new(); logs.len()];
    let mut roots = Vec::new();
    let mut logs = logs;
    for i in (0..logs.len()).rev() {
        let mut node = std::mem::take(&mut logs[i]);
        let mut kids = std::mem::take(&mut children[i]);
        kids.reverse();
        if let Value::Object(m) = &mut node {
            m.insert("children".to_owned(), Value::Array(kids));
        }
        match parent[i] {
            Some(p) => children[p].push(node),
            None => roots.push(node),
        }
    }
    roots.reverse();
    roots
}

/// `POST /model-configs`.
pub(crate) fn create_model_config(
    c: &mut Connection,
    project: Option<String>,
    project_id: Option<String>,
    config: Value,
) -> Result<Value, ApiError> {
    let tx = c.transaction()?;
    let project_id = match (project_id, project) {
        (Some(id), _) => {
            if !exists(&tx, "SELECT 1 FROM projects WHERE id = ?1", &id)? {
                return Err(ApiError::invalid(
                    vec![json!("body"), json!("project_id")],
                    format!("unknown project_id '{id}'"),
                    "value_error.unknown_reference",
                ));
            }
            Some(id)
        }
        (None, Some(name)) => Some(project_named(&tx, &name)?),
        (None, None) => None,
    };
    let id = new_id("config");
    let mut config = config;
    scrub(&mut config);
    tx.execute(
        "INSERT INTO model_configs (id, project_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, project_id, config.to_string(), now()],
    )?;
    let answer = get_model_config(&tx, &id)?;
    tx.commit()?;
    Ok(answer)
}

/// `GET /model-configs/{id}`: the config's fields plus `id`, `project_id`, `created_at`.
pub(crate) fn get_model_config(c: &Connection, id: &str) -> Result<Value, ApiError> {
    let (project_id, body, created_at): (Option<String>, String, String) = c
        .query_row(
            "SELECT project_id, body, created_at FROM model_configs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| ApiError::not_found("model config", id))?;
    let mut map = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => JsonMap::new(),
    };
    map.insert("id".to_owned(), Value::String(id.to_owned()));
    if let Some(p) = project_id {
        map.insert("project_id".to_owned(), Value::String(p));
    }
    map.insert("created_at".to_owned(), Value::String(created_at));
    Ok(Value::Object(map))
}
