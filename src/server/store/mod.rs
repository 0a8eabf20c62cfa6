//! SQLite storage, one file per concept: [`placement`] (where a datapoint goes: projects,
//! sessions, parents), [`logs`], [`sessions`], [`configs`] (model configs and their
//! deployments), [`projects`] and [`feedback`].
//!
//! One connection behind a mutex, used only inside `spawn_blocking` (never held across an
//! await). WAL journal with `synchronous=FULL`, so a committed transaction survives a crash
//! of the process or of the machine; every write is one transaction, committed before the
//! route answers. Functions here answer [`StoreError`]; the routes turn it into HTTP.

pub(crate) mod configs;
pub(crate) mod feedback;
pub(crate) mod logs;
pub(crate) mod placement;
pub(crate) mod projects;
pub(crate) mod sessions;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::error::entry;
use super::validate::scrub;
use super::Database;
use crate::api::{LogRequest, ValidationError};

pub(crate) use placement::{insert_datapoint, place, Placement, Route, ThisRequest};

/// What went wrong in storage, in the terms of the data (the routes pick the status).
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The request names something that does not exist (`what 'id' not found`).
    NotFound(String),
    /// The request contradicts what is stored (a reference id reused, a name taken).
    Conflict(String),
    /// The request's fields are wrong, with their locations.
    Validation(Vec<ValidationError>),
    /// SQLite failed, or stored data is unreadable.
    Internal(String),
}

impl StoreError {
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("{what} '{id}' not found"))
    }

    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(msg.into())
    }

    /// One located validation error.
    pub(crate) fn invalid(loc: Vec<Value>, msg: impl Into<String>, kind: &str) -> Self {
        Self::Validation(vec![entry(loc, msg, kind)])
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "humanloop-tracing server: storage error");
        Self::Internal(format!("storage error: {e}"))
    }
}

impl From<super::error::ApiError> for StoreError {
    /// Validation done inside a storage closure (completion placement) keeps its shape.
    fn from(e: super::error::ApiError) -> Self {
        match e {
            super::error::ApiError::Validation(v) => Self::Validation(v),
            super::error::ApiError::Status(_, detail) => Self::Internal(detail.to_string()),
        }
    }
}

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
-- Added for the v4 surface; new tables only, so older database files open unchanged.
CREATE TABLE IF NOT EXISTS project_meta (
    project_id TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL,
    active_config_id TEXT,
    directory_id TEXT,
    feedback_types TEXT
);
CREATE TABLE IF NOT EXISTS deployments (
    project_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    environment_name TEXT NOT NULL,
    config_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, environment_id)
);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    data_id TEXT NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    user TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_data ON feedback (data_id, seq);
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

    /// Run `prepare` on the blocking pool, then `f` with the connection and what `prepare`
    /// made, on the same thread: work that needs no connection is done before the lock is
    /// taken, while another request holds it.
    pub(crate) async fn run_prepared<A, T, P, F>(&self, prepare: P, f: F) -> Result<T, StoreError>
    where
        P: FnOnce() -> Result<A, StoreError> + Send + 'static,
        F: FnOnce(&mut Connection, A) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let made = prepare()?;
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard, made)
        })
        .await
        .map_err(|_| StoreError::internal("storage task failed"))?
    }

    /// Run `f` with the connection on the blocking pool.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` rolled its transaction back; the connection is still sound.
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|_| StoreError::internal("storage task failed"))?
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

/// The row of a cached statement, if any.
pub(crate) fn row<T, P, F>(
    c: &Connection,
    sql: &str,
    params: P,
    f: F,
) -> rusqlite::Result<Option<T>>
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

pub(crate) fn exists(c: &Connection, sql: &str, id: &str) -> rusqlite::Result<bool> {
    Ok(row(c, sql, [id], |_| Ok(()))?.is_some())
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
