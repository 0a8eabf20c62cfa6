//! Projects in the v4 `ProjectResponse` shape: create, list, read, update (name, active
//! config), delete (with everything in them), feedback types.

use rusqlite::{params, Connection};
use serde_json::{json, Value};

use super::configs::project_config;
use super::{exists, new_id, now, row, StoreError};

/// The feedback types every project starts with (Humanloop's defaults).
fn default_feedback_types() -> Value {
    json!([
        {"type": "rating", "values": [
            {"value": "good", "sentiment": "positive"},
            {"value": "bad", "sentiment": "negative"}
        ]},
        {"type": "action"},
        {"type": "issue"},
        {"type": "correction"},
        {"type": "comment"}
    ])
}

pub(crate) fn project_name(c: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    row(c, "SELECT name FROM projects WHERE id = ?1", [id], |r| {
        r.get(0)
    })
}

pub(crate) fn project_by_name(c: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    row(c, "SELECT id FROM projects WHERE name = ?1", [name], |r| {
        r.get(0)
    })
}

/// `NotFound` unless project `id` exists.
pub(crate) fn require(c: &Connection, id: &str) -> Result<(), StoreError> {
    if exists(c, "SELECT 1 FROM projects WHERE id = ?1", id)? {
        Ok(())
    } else {
        Err(StoreError::not_found("project", id))
    }
}

/// Mark the project changed now.
pub(crate) fn touch(c: &Connection, id: &str) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO project_meta (project_id, updated_at) VALUES (?1, ?2)
         ON CONFLICT (project_id) DO UPDATE SET updated_at = excluded.updated_at",
        params![id, now()],
    )?;
    Ok(())
}

pub(crate) fn active_config_id(c: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    Ok(row(
        c,
        "SELECT active_config_id FROM project_meta WHERE project_id = ?1",
        [id],
        |r| r.get(0),
    )?
    .flatten())
}

/// Project `id` as a `ProjectResponse`.
pub(crate) fn project_response(c: &Connection, id: &str) -> Result<Value, StoreError> {
    let (name, created_at): (String, String) = row(
        c,
        "SELECT name, created_at FROM projects WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .ok_or_else(|| StoreError::not_found("project", id))?;
    // (updated_at, directory_id, feedback_types); projects made by a log have no meta row.
    type Meta = (String, Option<String>, Option<String>);
    let meta: Option<Meta> = row(
        c,
        "SELECT updated_at, directory_id, feedback_types FROM project_meta WHERE project_id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (updated_at, directory, types) = meta.unwrap_or((created_at.clone(), None, None));
    let data_count: i64 = c.query_row(
        "SELECT COUNT(*) FROM datapoints WHERE project_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let feedback_types = types
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(default_feedback_types);
    let active_config = match super::configs::active_config(c, id, None) {
        Ok((config, env)) => Some(project_config(c, &config, env.as_deref())?),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let mut v = json!({
        "id": id,
        "name": name,
        "users": [],
        "data_count": data_count,
        "feedback_types": feedback_types,
        "team_id": "team_local",
        "created_at": created_at,
        "updated_at": updated_at,
    });
    if let Some(config) = active_config {
        v["config_type"] = json!("model");
        v["active_config"] = config;
    }
    if let Some(d) = directory {
        v["directory_id"] = json!(d);
    }
    Ok(v)
}

/// `POST /projects`: a new project; 409 when the name is taken.
pub(crate) fn create(
    c: &mut Connection,
    name: &str,
    directory_id: Option<&str>,
) -> Result<Value, StoreError> {
    let tx = c.transaction()?;
    if project_by_name(&tx, name)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a project named '{name}' already exists"
        )));
    }
    let id = new_id("pr");
    let at = now();
    tx.execute(
        "INSERT INTO projects (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![id, name, at],
    )?;
    tx.execute(
        "INSERT INTO project_meta (project_id, updated_at, directory_id) VALUES (?1, ?2, ?3)",
        params![id, at, directory_id],
    )?;
    let out = project_response(&tx, &id)?;
    tx.commit()?;
    Ok(out)
}

/// Query of `GET /projects`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ProjectQuery {
    pub(crate) page: Option<u64>,
    pub(crate) size: Option<u64>,
    /// Case-insensitive substring of the name.
    pub(crate) filter: Option<String>,
    /// Accepted for the SDK; every project here belongs to the one local user.
    pub(crate) user_filter: Option<String>,
    /// `created_at`, `updated_at` or `name`.
    pub(crate) sort_by: Option<String>,
    /// `asc` or `desc`.
    pub(crate) order: Option<String>,
}

/// `GET /projects`: a page of `ProjectResponse`s.
pub(crate) fn list(c: &Connection, q: &ProjectQuery) -> Result<Value, StoreError> {
    let sort = match q.sort_by.as_deref() {
        None | Some("created_at") => "p.created_at",
        Some("updated_at") => "COALESCE(m.updated_at, p.created_at)",
        Some("name") => "p.name",
        Some(other) => {
            return Err(StoreError::invalid(
                vec![json!("query"), json!("sort_by")],
                format!(
                    "unexpected value '{other}'; permitted: 'created_at', 'updated_at', 'name'"
                ),
                "type_error.enum",
            ))
        }
    };
    let order = match q.order.as_deref() {
        None | Some("asc") => "ASC",
        Some("desc") => "DESC",
        Some(other) => {
            return Err(StoreError::invalid(
                vec![json!("query"), json!("order")],
                format!("unexpected value '{other}'; permitted: 'asc', 'desc'"),
                "type_error.enum",
            ))
        }
    };
    let _ = &q.user_filter;
    let filter = q.filter.clone().unwrap_or_default();
    let size = q.size.unwrap_or(10).clamp(1, 1000);
    let page = q.page.unwrap_or(1).max(1);
    let total: i64 = c.query_row(
        "SELECT COUNT(*) FROM projects WHERE instr(lower(name), lower(?1)) > 0",
        [&filter],
        |r| r.get(0),
    )?;
    let ids: Vec<String> = c
        .prepare(&format!(
            "SELECT p.id FROM projects p LEFT JOIN project_meta m ON m.project_id = p.id
             WHERE instr(lower(p.name), lower(?1)) > 0
             ORDER BY {sort} {order}, p.id {order} LIMIT {size} OFFSET {}",
            (page - 1).saturating_mul(size)
        ))?
        .query_map([&filter], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let records = ids
        .iter()
        .map(|id| project_response(c, id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"records": records, "page": page, "size": size, "total": total}))
}

/// Body of `PATCH /projects/{id}`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ProjectUpdate {
    pub(crate) name: Option<String>,
    pub(crate) active_config_id: Option<String>,
    pub(crate) directory_id: Option<String>,
}

/// `PATCH /projects/{id}`: rename, set the active config (one of its own), move.
pub(crate) fn update(c: &mut Connection, id: &str, u: ProjectUpdate) -> Result<Value, StoreError> {
    let tx = c.transaction()?;
    require(&tx, id)?;
    touch(&tx, id)?;
    if let Some(name) = &u.name {
        if project_by_name(&tx, name)?.is_some_and(|other| other != id) {
            return Err(StoreError::Conflict(format!(
                "a project named '{name}' already exists"
            )));
        }
        tx.execute(
            "UPDATE projects SET name = ?1 WHERE id = ?2",
            params![name, id],
        )?;
    }
    if let Some(config) = &u.active_config_id {
        let owner: Option<Option<String>> = row(
            &tx,
            "SELECT project_id FROM model_configs WHERE id = ?1",
            [config],
            |r| r.get(0),
        )?;
        if owner.flatten().as_deref() != Some(id) {
            return Err(StoreError::invalid(
                vec![json!("body"), json!("active_config_id")],
                format!("'{config}' is not a model config of project '{id}'"),
                "value_error.unknown_reference",
            ));
        }
        tx.execute(
            "UPDATE project_meta SET active_config_id = ?1 WHERE project_id = ?2",
            params![config, id],
        )?;
    }
    if let Some(d) = &u.directory_id {
        tx.execute(
            "UPDATE project_meta SET directory_id = ?1 WHERE project_id = ?2",
            params![d, id],
        )?;
    }
    let out = project_response(&tx, id)?;
    tx.commit()?;
    Ok(out)
}

/// `DELETE /projects/{id}/active-config`: the project falls back to its deployment.
pub(crate) fn clear_active(c: &mut Connection, id: &str) -> Result<Value, StoreError> {
    let tx = c.transaction()?;
    require(&tx, id)?;
    touch(&tx, id)?;
    tx.execute(
        "UPDATE project_meta SET active_config_id = NULL WHERE project_id = ?1",
        [id],
    )?;
    let out = project_response(&tx, id)?;
    tx.commit()?;
    Ok(out)
}

/// `DELETE /projects/{id}`: the project and everything in it (logs, their feedback,
/// sessions, configs, deployments).
pub(crate) fn delete(c: &mut Connection, id: &str) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    require(&tx, id)?;
    tx.execute(
        "DELETE FROM feedback WHERE data_id IN (SELECT id FROM datapoints WHERE project_id = ?1)",
        [id],
    )?;
    for sql in [
        "DELETE FROM datapoints WHERE project_id = ?1",
        "DELETE FROM sessions WHERE project_id = ?1",
        "DELETE FROM model_configs WHERE project_id = ?1",
        "DELETE FROM deployments WHERE project_id = ?1",
        "DELETE FROM project_meta WHERE project_id = ?1",
        "DELETE FROM projects WHERE id = ?1",
    ] {
        tx.execute(sql, [id])?;
    }
    tx.commit()?;
    Ok(())
}

/// One feedback type of `POST/PATCH /projects/{id}/feedback-types`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct FeedbackTypeRequest {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(rename = "class")]
    pub(crate) _class: Option<String>,
    pub(crate) values: Option<Vec<FeedbackLabel>>,
}

/// A label of a categorical feedback type.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct FeedbackLabel {
    pub(crate) value: String,
    pub(crate) sentiment: Option<String>,
}

/// Add or replace feedback types; answers the `FeedbackTypeModel` of each.
pub(crate) fn set_feedback_types(
    c: &mut Connection,
    id: &str,
    types: Vec<FeedbackTypeRequest>,
) -> Result<Vec<Value>, StoreError> {
    let tx = c.transaction()?;
    require(&tx, id)?;
    touch(&tx, id)?;
    let stored: Option<String> = row(
        &tx,
        "SELECT feedback_types FROM project_meta WHERE project_id = ?1",
        [id],
        |r| r.get(0),
    )?
    .flatten();
    let mut all: Vec<Value> = stored
        .and_then(|s| serde_json::from_str(&s).ok())
        .or_else(|| default_feedback_types().as_array().cloned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for t in types {
        let mut model = json!({"type": t.kind});
        if let Some(values) = t.values {
            model["values"] = values
                .into_iter()
                .map(|l| json!({"value": l.value, "sentiment": l.sentiment.unwrap_or_else(|| "unset".to_owned())}))
                .collect();
        }
        match all.iter_mut().find(|e| e["type"] == model["type"]) {
            Some(existing) => *existing = model.clone(),
            None => all.push(model.clone()),
        }
        out.push(model);
    }
    tx.execute(
        "UPDATE project_meta SET feedback_types = ?1 WHERE project_id = ?2",
        params![Value::Array(all).to_string(), id],
    )?;
    tx.commit()?;
    Ok(out)
}
