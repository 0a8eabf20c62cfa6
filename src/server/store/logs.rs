//! Logs (datapoints): create, read in the v4 `LogResponse` shape, list with the SDK's
//! filters, complete by id or reference, delete.
//!
//! A `reference_id` names one datapoint within its project: a retry in the same session
//! answers the datapoint already stored; the same `reference_id` in another session of the
//! same project is refused (409), so `PATCH /logs?reference_id=…`, which names no session,
//! always finds one datapoint per project.

use std::collections::HashSet;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::configs::{config_response, generic_config};
use super::feedback::{self, for_log};
use super::placement::{insert_datapoints, place, NewDatapoint, Route, ThisRequest};
use super::{exists, new_id, now, row, storable, storable_log, Store, StoreError};
use crate::api::{CreateLogResponse, JsonMap, LogConfig, LogRequest, UpdateLogRequest};
use crate::server::error::{body_loc, entry};
use crate::server::validate::utc_timestamp;

/// A log made ready for storage without the database: its stored text (with the id its
/// inline config gets), its routing fields, its feedback and its own `created_at`.
pub(crate) struct ReadyLog {
    body: String,
    project: Option<String>,
    project_id: Option<String>,
    session_id: Option<String>,
    session_reference_id: Option<String>,
    parent_id: Option<String>,
    parent_reference_id: Option<String>,
    reference_id: Option<String>,
    config_id: Option<String>,
    feedback: Option<Value>,
    created_at: Option<String>,
}

impl ReadyLog {
    fn route(&self) -> Route<'_> {
        Route {
            project: self.project.as_deref(),
            project_id: self.project_id.as_deref(),
            session_id: self.session_id.as_deref(),
            session_reference_id: self.session_reference_id.as_deref(),
            parent_id: self.parent_id.as_deref(),
            parent_reference_id: self.parent_reference_id.as_deref(),
        }
    }

    fn names_parent(&self) -> bool {
        self.parent_id.is_some() || self.parent_reference_id.is_some()
    }
}

/// What storing `logs` needs that does not depend on the database: their stored text above
/// all. Done before the connection is taken (see [`create`]).
pub(crate) fn prepare_logs(logs: Vec<LogRequest>) -> Result<Vec<ReadyLog>, StoreError> {
    logs.into_iter()
        .map(|mut log| {
            // An inline config gets an id once, so every read answers the same `config.id`.
            match &mut log.config {
                Some(LogConfig::Model(m)) if !m.extra.contains_key("id") => {
                    m.extra.insert("id".to_owned(), json!(new_id("config")));
                }
                Some(LogConfig::Tool(t)) if !t.extra.contains_key("id") => {
                    t.extra.insert("id".to_owned(), json!(new_id("tool")));
                }
                _ => {}
            }
            let feedback = log.feedback.take();
            let created_at = log
                .created_at
                .take()
                .map(|given| utc_timestamp(&given).unwrap_or(given));
            let body = storable_log(&log)
                .map_err(|e| StoreError::internal(format!("cannot encode the log: {e}")))?;
            Ok(ReadyLog {
                body,
                project: log.project.take(),
                project_id: log.project_id.take(),
                session_id: log.session_id.take(),
                session_reference_id: log.session_reference_id.take(),
                parent_id: log.parent_id.take(),
                parent_reference_id: log.parent_reference_id.take(),
                reference_id: log.reference_id.take(),
                config_id: log.config_id.take(),
                feedback,
                created_at,
            })
        })
        .collect()
}

/// `POST /logs`: [`prepare_logs`] on the blocking pool before the connection is taken
/// (encoding the stored text was an eighth of the time the connection was held), then
/// [`create_logs`].
pub(crate) async fn create(
    store: &Store,
    logs: Vec<LogRequest>,
    many: bool,
) -> Result<Vec<CreateLogResponse>, StoreError> {
    store
        .run_prepared(
            move || prepare_logs(logs),
            move |c, ready| create_logs(c, ready, many),
        )
        .await
}

/// `POST /logs`: all or nothing, in one transaction.
///
/// Rows are stored in multi-row statements ([`insert_datapoints`]): a row waits in
/// `pending` until something could observe it (a log naming a parent, a reference id that
/// may clash with one of this request) or the request ends, so every check sees what a
/// row-by-row insert would have shown it.
pub(crate) fn create_logs(
    c: &mut Connection,
    logs: Vec<ReadyLog>,
    many: bool,
) -> Result<Vec<CreateLogResponse>, StoreError> {
    let tx = c.transaction()?;
    let mut this_request = ThisRequest::default();
    // The ids created here are only looked at when a log of this request names a parent.
    let names_parents = logs.iter().any(ReadyLog::names_parent);
    // The reference ids of this request already stored anywhere, in one statement: only
    // those, and those stored earlier in this request, can name a datapoint elsewhere in
    // their project (checked row by row below).
    let stored_refs = stored_references(&tx, &logs)?;
    let mut this_refs: HashSet<String> = HashSet::new();
    let mut errors = Vec::new();
    let mut out: Vec<Option<CreateLogResponse>> = Vec::with_capacity(logs.len());
    let mut pending = Pending::default();
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
        if log.names_parent() {
            // A parent is looked up among the stored rows, and refused when it is one of
            // this request's.
            pending.store(&tx, &mut out, &mut this_request, names_parents)?;
        }
        let Some(p) = place(
            &tx,
            log.route(),
            &prefix,
            true,
            &mut this_request,
            &mut errors,
        )?
        else {
            out.push(None);
            continue;
        };
        let may_clash = log
            .reference_id
            .as_ref()
            .is_some_and(|r| stored_refs.contains(r) || this_refs.contains(r));
        if may_clash {
            // The rows of this request with this reference id are looked at: store them.
            pending.store(&tx, &mut out, &mut this_request, names_parents)?;
        }
        if let (true, Some(reference), Some(project)) =
            (may_clash, &log.reference_id, &p.project_id)
        {
            // One datapoint per reference within a project (see the module docs).
            let elsewhere: Option<(String, Option<String>)> = row(
                &tx,
                "SELECT id, session_id FROM datapoints
                 WHERE reference_id = ?1 AND project_id = ?2 AND scope != ?3 LIMIT 1",
                params![reference, project, p.scope()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Some((other, session)) = elsewhere {
                let session =
                    session.map_or_else(|| "no session".to_owned(), |s| format!("session '{s}'"));
                return Err(StoreError::Conflict(format!(
                    "reference_id '{reference}' already names datapoint '{other}' in {session} of this project; a reference_id names one datapoint per project"
                )));
            }
        }
        if let Some(reference) = &log.reference_id {
            // Stored now or already (a retry): either way a later repeat may clash.
            this_refs.insert(reference.clone());
        }
        pending.push(
            out.len(),
            NewDatapoint {
                id: new_id("data"),
                placement: p,
                reference_id: log.reference_id,
                body: log.body,
                created_at: log.created_at.unwrap_or_else(|| at.clone()),
            },
            log.feedback,
        );
        out.push(None);
    }
    if !errors.is_empty() {
        return Err(StoreError::Validation(errors));
    }
    pending.store(&tx, &mut out, &mut this_request, names_parents)?;
    tx.commit()?;
    // Every log without an error got its answer.
    Ok(out.into_iter().flatten().collect())
}

/// The rows of a request not yet stored, with their place in the answer and their feedback.
#[derive(Default)]
struct Pending {
    rows: Vec<NewDatapoint>,
    slots: Vec<(usize, Option<Value>)>,
}

impl Pending {
    fn push(&mut self, slot: usize, row: NewDatapoint, feedback: Option<Value>) {
        self.rows.push(row);
        self.slots.push((slot, feedback));
    }

    /// Store the pending rows and their feedback, and fill in their answers.
    fn store(
        &mut self,
        tx: &Connection,
        out: &mut [Option<CreateLogResponse>],
        this_request: &mut ThisRequest,
        names_parents: bool,
    ) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let stored = insert_datapoints(tx, &self.rows)?;
        for ((d, (slot, feedback)), stored) in
            self.rows.drain(..).zip(self.slots.drain(..)).zip(stored)
        {
            let p = d.placement;
            if !stored {
                // A retry (or a repeat in this request): answer the datapoint already stored.
                let (id, project_id, session_id) = row(
                    tx,
                    "SELECT id, project_id, session_id FROM datapoints WHERE scope = ?1 AND reference_id = ?2",
                    params![p.scope(), d.reference_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
                .ok_or_else(|| StoreError::internal("a conflicting datapoint vanished"))?;
                out[slot] = Some(log_response(id, project_id, session_id));
                continue;
            }
            if let Some(items) = feedback {
                let items = match items {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    one => vec![one],
                };
                for item in items {
                    feedback::insert(tx, &d.id, &item, &d.created_at)?;
                }
            }
            if names_parents {
                this_request.created.insert(d.id.clone());
            }
            out[slot] = Some(log_response(d.id, p.project_id, p.session_id));
        }
        Ok(())
    }
}

/// The reference ids of `logs` that some stored datapoint already has.
fn stored_references(c: &Connection, logs: &[ReadyLog]) -> Result<HashSet<String>, StoreError> {
    let refs: Vec<&str> = logs
        .iter()
        .filter_map(|l| l.reference_id.as_deref())
        .collect();
    if refs.is_empty() {
        return Ok(HashSet::new());
    }
    let refs = serde_json::to_string(&refs)
        .map_err(|e| StoreError::internal(format!("cannot encode the reference ids: {e}")))?;
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT d.reference_id FROM json_each(?1) AS j
         JOIN datapoints AS d ON d.reference_id = j.value",
    )?;
    let found = stmt
        .query_map([refs], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<HashSet<String>>>()?;
    Ok(found)
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

pub(crate) const LOG_COLUMNS: &str =
    "id, project_id, session_id, parent_id, reference_id, body, created_at, updated_at";

/// The stored log as it was sent, with its placement columns (not yet in the v4 shape).
pub(crate) fn log_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JsonMap> {
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
    let updated: Option<String> = r.get(7)?;
    map.insert(
        "updated_at".to_owned(),
        Value::String(updated.unwrap_or_else(|| created.clone())),
    );
    map.insert("created_at".to_owned(), Value::String(created));
    Ok(map)
}

/// A stored log in the v4 `LogResponse` shape: its `config` (inline, or the registered one
/// its `config_id` names, or a `generic` one for a log that names none), its feedback,
/// `evaluation_results` (always empty here) and `observability_status`.
pub(crate) fn shape(c: &Connection, mut map: JsonMap) -> rusqlite::Result<Value> {
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let config = match map.remove("config") {
        Some(Value::Object(inline)) => inline_config(inline, map.get("config_id")),
        _ => None,
    };
    let config = match config {
        Some(config) => config,
        None => match map.get("config_id").and_then(Value::as_str) {
            Some(config_id) => super::configs::stored_config(c, config_id)?
                .unwrap_or_else(|| generic_config(config_id)),
            None => generic_config("config_generic"),
        },
    };
    map.insert("config".to_owned(), config);
    map.insert("evaluation_results".to_owned(), json!([]));
    map.insert("observability_status".to_owned(), json!("completed"));
    let mut items = for_log(c, &id)?;
    if let Some(old) = map.remove("feedback") {
        // Stored by an earlier version inline; kept in front of the submitted ones.
        let old: Vec<Value> = match old {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            one => vec![one],
        };
        for (i, mut f) in old.into_iter().enumerate() {
            if let Value::Object(m) = &mut f {
                m.entry("id")
                    .or_insert_with(|| json!(format!("feedback_{id}_{i}")));
            }
            items.insert(i, f);
        }
    }
    map.insert("feedback".to_owned(), Value::Array(items));
    // The v4 models type these as objects; a scalar or array stored by a client is kept
    // under `value` rather than answered in a shape the SDK refuses.
    for key in ["provider_request", "provider_response"] {
        if let Some(v) = map.get_mut(key) {
            if !v.is_object() && !v.is_null() {
                *v = json!({ "value": v.take() });
            }
        }
    }
    if let Some(Value::String(name)) = map.get("project").cloned().or_else(|| {
        map.get("project_id")
            .and_then(Value::as_str)
            .and_then(|p| super::projects::project_name(c, p).ok().flatten())
            .map(Value::String)
    }) {
        map.insert("project".to_owned(), Value::String(name));
    }
    Ok(Value::Object(map))
}

fn inline_config(mut inline: JsonMap, config_id: Option<&Value>) -> Option<Value> {
    let kind = inline
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("model")
        .to_owned();
    match kind.as_str() {
        "tool" => {
            let id = inline
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("tool_inline")
                .to_owned();
            inline.insert("id".to_owned(), json!(id));
            inline.entry("status").or_insert(json!("committed"));
            inline.entry("name").or_insert(json!("tool"));
            if let Some(s) = inline.get("source") {
                if !matches!(s.as_str(), Some("organization" | "inline")) {
                    inline.remove("source");
                }
            }
            Some(Value::Object(inline))
        }
        "model" => {
            let id = config_id
                .and_then(Value::as_str)
                .or_else(|| inline.get("id").and_then(Value::as_str))
                .unwrap_or("config_inline")
                .to_owned();
            Some(config_response(&id, inline))
        }
        _ => None,
    }
}

pub(crate) fn get_log(c: &Connection, id: &str) -> Result<Value, StoreError> {
    let map = c
        .prepare_cached(&format!(
            "SELECT {LOG_COLUMNS} FROM datapoints WHERE id = ?1"
        ))?
        .query_row([id], log_from_row)
        .optional()?
        .ok_or_else(|| StoreError::not_found("log", id))?;
    Ok(shape(c, map)?)
}

/// Filters of `GET /logs` (the SDK's `logs.list`), and of the older `project`, `session_id`
/// and `session_reference_id`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct LogFilter {
    pub(crate) project: Option<String>,
    pub(crate) project_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) session_reference_id: Option<String>,
    /// Case-insensitive substring of the inputs, output or messages.
    pub(crate) search: Option<String>,
    /// A JSON object whose entries the log's metadata must hold, or a substring of it.
    pub(crate) metadata_search: Option<String>,
    /// `committed`, `uncommitted` or `deleted`: every config here is committed.
    pub(crate) version_status: Option<String>,
    /// A date (`2024-05-01`, from its start) or a timestamp, inclusive.
    pub(crate) start_date: Option<String>,
    /// A date (to its end) or a timestamp, inclusive.
    pub(crate) end_date: Option<String>,
    pub(crate) page: Option<u64>,
    pub(crate) size: Option<u64>,
}

fn date_bound(given: &str, end: bool, field: &str) -> Result<String, StoreError> {
    let given = given.trim();
    let full = if given.len() == 10 && !given.contains('T') {
        format!(
            "{given}T{}",
            if end { "23:59:59.999999" } else { "00:00:00" }
        )
    } else {
        given.to_owned()
    };
    utc_timestamp(&full).ok_or_else(|| {
        StoreError::invalid(
            vec![json!("query"), json!(field)],
            format!("invalid date or timestamp '{given}'"),
            "value_error.datetime",
        )
    })
}

pub(crate) fn list_logs(c: &Connection, f: &LogFilter) -> Result<Value, StoreError> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    if let Some(v) = &f.project_id {
        clauses.push("project_id = ?");
        args.push(v.clone());
    }
    if let Some(v) = &f.project {
        clauses.push("project_id = (SELECT id FROM projects WHERE name = ?)");
        args.push(v.clone());
    }
    if let Some(v) = &f.session_id {
        clauses.push("session_id = ?");
        args.push(v.clone());
    }
    if let Some(v) = &f.session_reference_id {
        clauses.push("session_id = (SELECT id FROM sessions WHERE reference_id = ?)");
        args.push(v.clone());
    }
    if let Some(v) = f.search.as_deref().filter(|s| !s.is_empty()) {
        clauses.push(
            "(instr(lower(COALESCE(json_extract(body, '$.output'), '')), lower(?1x)) > 0
              OR instr(lower(COALESCE(json_extract(body, '$.inputs'), '')), lower(?1x)) > 0
              OR instr(lower(COALESCE(json_extract(body, '$.messages'), '')), lower(?1x)) > 0)",
        );
        args.push(v.to_owned());
    }
    if let Some(v) = f.metadata_search.as_deref().filter(|s| !s.is_empty()) {
        match serde_json::from_str::<Value>(v) {
            Ok(Value::Object(wanted)) => {
                for (k, want) in wanted {
                    clauses.push("instr(COALESCE(json_extract(body, '$.metadata'), ''), ?) > 0");
                    args.push(format!("{}:{}", Value::String(k), want));
                }
            }
            _ => {
                clauses.push(
                    "instr(lower(COALESCE(json_extract(body, '$.metadata'), '')), lower(?)) > 0",
                );
                args.push(v.to_owned());
            }
        }
    }
    match f.version_status.as_deref() {
        None | Some("committed") => {}
        Some("uncommitted" | "deleted") => clauses.push("0"),
        Some(other) => {
            return Err(StoreError::invalid(
                vec![json!("query"), json!("version_status")],
                format!(
                    "unexpected value '{other}'; permitted: 'uncommitted', 'committed', 'deleted'"
                ),
                "type_error.enum",
            ))
        }
    }
    if let Some(v) = &f.start_date {
        clauses.push("created_at >= ?");
        args.push(date_bound(v, false, "start_date")?);
    }
    if let Some(v) = &f.end_date {
        clauses.push("created_at <= ?");
        args.push(date_bound(v, true, "end_date")?);
    }
    // `?1x` marks a parameter used three times: expand it to three plain ones.
    let mut sql_clauses = Vec::new();
    let mut sql_args = Vec::new();
    let mut args = args.into_iter();
    for clause in clauses {
        if clause.contains("?1x") {
            let a = args.next().unwrap_or_default();
            for _ in 0..3 {
                sql_args.push(a.clone());
            }
            sql_clauses.push(clause.replace("?1x", "?"));
        } else if clause.contains('?') {
            sql_args.push(args.next().unwrap_or_default());
            sql_clauses.push(clause.to_owned());
        } else {
            sql_clauses.push(clause.to_owned());
        }
    }
    let filter = if sql_clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", sql_clauses.join(" AND "))
    };
    let size = f.size.unwrap_or(100).clamp(1, 1000);
    let page = f.page.unwrap_or(1).max(1);
    let total: i64 = c.query_row(
        &format!("SELECT COUNT(*) FROM datapoints {filter}"),
        params_from_iter(sql_args.iter()),
        |r| r.get(0),
    )?;
    let mut stmt = c.prepare(&format!(
        "SELECT {LOG_COLUMNS} FROM datapoints {filter} ORDER BY seq LIMIT {size} OFFSET {}",
        (page - 1).saturating_mul(size)
    ))?;
    let rows = stmt
        .query_map(params_from_iter(sql_args.iter()), log_from_row)?
        .collect::<rusqlite::Result<Vec<JsonMap>>>()?;
    let records = rows
        .into_iter()
        .map(|m| shape(c, m))
        .collect::<rusqlite::Result<Vec<Value>>>()?;
    Ok(json!({ "records": records, "page": page, "size": size, "total": total }))
}

/// Which datapoint a PATCH names.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct PatchTarget {
    pub(crate) reference_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) session_reference_id: Option<String>,
    pub(crate) project_id: Option<String>,
    pub(crate) project: Option<String>,
}

fn find_by_reference(c: &Connection, t: &PatchTarget) -> Result<String, StoreError> {
    let Some(reference) = t.reference_id.as_deref().filter(|r| !r.is_empty()) else {
        return Err(StoreError::invalid(
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
    let project = match (&t.project_id, &t.project) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(name)) => Some(
            c.query_row("SELECT id FROM projects WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or_default(),
        ),
        (None, None) => None,
    };
    let mut stmt = c.prepare(
        "SELECT id FROM datapoints WHERE reference_id = ?1
         AND (?2 IS NULL OR scope = ?2) AND (?3 IS NULL OR project_id = ?3) LIMIT 2",
    )?;
    let mut ids: Vec<String> = stmt
        .query_map(params![reference, session, project], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    match ids.len() {
        0 => Err(StoreError::NotFound(format!(
            "no log with reference_id '{reference}'"
        ))),
        1 => Ok(ids.remove(0)),
        _ => Err(StoreError::Conflict(format!(
            "reference_id '{reference}' is used in several projects: add project_id (or project)"
        ))),
    }
}

/// `PATCH /logs/{id}` (`id`) or `PATCH /logs?reference_id=…` (`target`).
pub(crate) fn patch_log(
    c: &mut Connection,
    id: Option<String>,
    target: PatchTarget,
    patch: UpdateLogRequest,
) -> Result<Value, StoreError> {
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
        .ok_or_else(|| StoreError::not_found("log", &id))?;
    let mut map = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => JsonMap::new(),
    };
    let update = serde_json::to_value(&patch)
        .map_err(|e| StoreError::internal(format!("cannot encode the update: {e}")))?;
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

/// `DELETE /logs?id=…&id=…`: every named log and its feedback; unknown ids are a 404 and
/// nothing is deleted.
pub(crate) fn delete_logs(c: &mut Connection, ids: &[String]) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    for id in ids {
        if !exists(&tx, "SELECT 1 FROM datapoints WHERE id = ?1", id)? {
            return Err(StoreError::not_found("log", id));
        }
        tx.execute("DELETE FROM feedback WHERE data_id = ?1", [id])?;
        // Children keep their place in the session, as roots.
        tx.execute(
            "UPDATE datapoints SET parent_id = NULL WHERE parent_id = ?1",
            [id],
        )?;
        tx.execute("DELETE FROM datapoints WHERE id = ?1", [id])?;
    }
    tx.commit()?;
    Ok(())
}
