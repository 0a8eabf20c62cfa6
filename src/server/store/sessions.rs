//! Sessions: create (`POST /sessions`), read (`SessionResponse` with the datapoint tree),
//! list.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::logs::{log_from_row, shape, LOG_COLUMNS};
use super::placement::session_by_reference;
use super::projects::project_name;
use super::{exists, new_id, now, project_named, StoreError};
use crate::api::JsonMap;

/// `POST /sessions`: a new session, or the existing one for a known `reference_id`.
pub(crate) fn create_session(
    c: &mut Connection,
    project: Option<String>,
    project_id: Option<String>,
    reference_id: Option<String>,
) -> Result<String, StoreError> {
    let tx = c.transaction()?;
    let project_id = match (project_id, project) {
        (Some(id), _) => {
            if !exists(&tx, "SELECT 1 FROM projects WHERE id = ?1", &id)? {
                return Err(StoreError::invalid(
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

/// `GET /sessions/{id}`: the v4 `SessionResponse`, plus `project_id` and the session's
/// logs as a tree under `datapoints` (each log in the `LogResponse` shape with its
/// `children`), which the SDK's model ignores and the quickstart prints.
pub(crate) fn get_session(c: &Connection, id: &str) -> Result<Value, StoreError> {
    let (reference_id, project_id, created_at): (Option<String>, Option<String>, String) = c
        .query_row(
            "SELECT reference_id, project_id, created_at FROM sessions WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::not_found("session", id))?;
    let mut stmt = c.prepare(&format!(
        "SELECT {LOG_COLUMNS} FROM datapoints WHERE session_id = ?1 ORDER BY seq"
    ))?;
    let logs = stmt
        .query_map([id], log_from_row)?
        .collect::<rusqlite::Result<Vec<JsonMap>>>()?;
    let logs = logs
        .into_iter()
        .map(|m| shape(c, m))
        .collect::<rusqlite::Result<Vec<Value>>>()?;
    let mut v = summary(c, id, reference_id, project_id.clone(), created_at, &logs)?;
    v["project_id"] = json!(project_id);
    v["datapoints"] = Value::Array(tree(logs));
    Ok(v)
}

/// The `SessionResponse` fields of a session whose logs (in order) are `logs`.
fn summary(
    c: &Connection,
    id: &str,
    reference_id: Option<String>,
    project_id: Option<String>,
    created_at: String,
    logs: &[Value],
) -> rusqlite::Result<Value> {
    let mut project_ids: Vec<String> = project_id.into_iter().collect();
    for log in logs {
        if let Some(p) = log.get("project_id").and_then(Value::as_str) {
            if !project_ids.iter().any(|q| q == p) {
                project_ids.push(p.to_owned());
            }
        }
    }
    let mut projects = Vec::new();
    for p in project_ids {
        if let Some(name) = project_name(c, &p)? {
            projects.push(json!({"id": p, "name": name, "type": "prompt"}));
        }
    }
    let updated_at = logs
        .iter()
        .filter_map(|l| l.get("updated_at").and_then(Value::as_str))
        .chain(std::iter::once(created_at.as_str()))
        .max()
        .unwrap_or(&created_at)
        .to_owned();
    let mut v = json!({
        "id": id,
        "reference_id": reference_id,
        "projects": projects,
        "datapoints_count": logs.len(),
        "created_at": created_at,
        "updated_at": updated_at,
    });
    if let Some(inputs) = logs
        .first()
        .and_then(|l| l.get("inputs"))
        .filter(|i| i.is_object())
    {
        v["first_inputs"] = inputs.clone();
    }
    if let Some(out) = logs
        .last()
        .and_then(|l| l.get("output"))
        .filter(|o| o.is_string())
    {
        v["last_output"] = out.clone();
    }
    Ok(v)
}

/// Query of `GET /sessions`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct SessionQuery {
    pub(crate) project_id: Option<String>,
    pub(crate) page: Option<u64>,
    pub(crate) size: Option<u64>,
}

/// `GET /sessions`: a page of `SessionResponse`s, newest first; with `project_id`, the
/// sessions holding a log of that project (or created for it).
pub(crate) fn list_sessions(c: &Connection, q: &SessionQuery) -> Result<Value, StoreError> {
    let size = q.size.unwrap_or(10).clamp(1, 1000);
    let page = q.page.unwrap_or(1).max(1);
    let filter = "(?1 IS NULL OR project_id = ?1
        OR id IN (SELECT session_id FROM datapoints WHERE project_id = ?1))";
    let total: i64 = c.query_row(
        &format!("SELECT COUNT(*) FROM sessions WHERE {filter}"),
        [&q.project_id],
        |r| r.get(0),
    )?;
    let sessions: Vec<(String, Option<String>, Option<String>, String)> = c
        .prepare(&format!(
            "SELECT id, reference_id, project_id, created_at FROM sessions WHERE {filter}
             ORDER BY created_at DESC, id DESC LIMIT {size} OFFSET {}",
            (page - 1).saturating_mul(size)
        ))?
        .query_map([&q.project_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut records = Vec::with_capacity(sessions.len());
    for (id, reference_id, project_id, created_at) in sessions {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {LOG_COLUMNS} FROM datapoints WHERE session_id = ?1 ORDER BY seq"
        ))?;
        let logs = stmt
            .query_map([&id], log_from_row)?
            .map(|m| m.map(Value::Object))
            .collect::<rusqlite::Result<Vec<Value>>>()?;
        records.push(summary(
            c,
            &id,
            reference_id,
            project_id,
            created_at,
            &logs,
        )?);
    }
    Ok(json!({"records": records, "page": page, "size": size, "total": total}))
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
