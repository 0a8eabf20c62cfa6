//! Model configs (registered per project, immutable) and their deployments to
//! environments, answered in the v4 shapes: `ModelConfigResponse` (the config with its
//! `id`, `type: "model"` and tool ids), `ProjectConfigResponse` (the config nested under
//! `config` with its project and times) and `EnvironmentProjectConfigResponse`.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::{exists, new_id, now, project_named, row, StoreError};
use crate::api::JsonMap;
use crate::server::validate::scrub;

/// The environment a deployment goes to when the request names none, as Humanloop's
/// default environment.
pub(crate) const DEFAULT_ENVIRONMENT: (&str, &str) = ("env_production", "production");

/// A project named by id (must exist) or by name (created when new); the `default`
/// project when neither is given.
pub(crate) fn resolve_project(
    c: &Connection,
    project: Option<&str>,
    project_id: Option<&str>,
) -> Result<String, StoreError> {
    match (project_id, project) {
        (Some(id), _) => {
            if exists(c, "SELECT 1 FROM projects WHERE id = ?1", id)? {
                Ok(id.to_owned())
            } else {
                Err(StoreError::invalid(
                    vec![json!("body"), json!("project_id")],
                    format!("unknown project_id '{id}'"),
                    "value_error.unknown_reference",
                ))
            }
        }
        (None, Some(name)) => Ok(project_named(c, name)?),
        (None, None) => Ok(project_named(c, "default")?),
    }
}

/// A stored config body (as registered) in the `ModelConfigResponse` shape.
pub(crate) fn config_response(id: &str, mut body: JsonMap) -> Value {
    body.remove("project");
    body.remove("project_id");
    body.remove("created_at");
    body.insert("id".to_owned(), json!(id));
    body.insert("type".to_owned(), json!("model"));
    if let Some(Value::Array(tools)) = body.remove("tools") {
        let hex = id.rsplit('_').next().unwrap_or(id);
        let tools: Vec<Value> = tools
            .into_iter()
            .enumerate()
            .map(|(i, t)| tool_response(t, &format!("tool_{hex}_{i}")))
            .collect();
        body.insert("tools".to_owned(), Value::Array(tools));
    }
    Value::Object(body)
}

/// One tool of a config, in Humanloop's shape (`id`, `name`, `description`, `parameters`)
/// whichever shape it was registered in (Humanloop's or OpenAI's `{type, function}`).
fn tool_response(tool: Value, default_id: &str) -> Value {
    let f = tool.get("function").unwrap_or(&tool);
    let mut out = json!({
        "id": tool.get("id").and_then(Value::as_str).unwrap_or(default_id),
        "name": f.get("name").and_then(Value::as_str).unwrap_or("tool"),
    });
    for key in ["description", "parameters", "source"] {
        if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
            out[key] = v.clone();
        }
    }
    out
}

/// The config a log names when it has none of its own (or an unknown one).
pub(crate) fn generic_config(id: &str) -> Value {
    json!({"id": id, "type": "generic", "status": "committed", "name": "log"})
}

struct Stored {
    project_id: Option<String>,
    body: JsonMap,
    created_at: String,
}

fn load(c: &Connection, id: &str) -> rusqlite::Result<Option<Stored>> {
    row(
        c,
        "SELECT project_id, body, created_at FROM model_configs WHERE id = ?1",
        [id],
        |r| {
            let body: String = r.get(1)?;
            Ok(Stored {
                project_id: r.get(0)?,
                body: match serde_json::from_str::<Value>(&body) {
                    Ok(Value::Object(m)) => m,
                    _ => JsonMap::new(),
                },
                created_at: r.get(2)?,
            })
        },
    )
}

/// The registered config `id` as a `ModelConfigResponse`, if it exists.
pub(crate) fn stored_config(c: &Connection, id: &str) -> rusqlite::Result<Option<Value>> {
    Ok(load(c, id)?.map(|s| config_response(id, s.body)))
}

/// The stored body of config `id` (what completions render and send).
pub(crate) fn config_body(c: &Connection, id: &str) -> Result<Value, StoreError> {
    load(c, id)?
        .map(|s| Value::Object(s.body))
        .ok_or_else(|| StoreError::not_found("model config", id))
}

/// `POST /model-configs`: register `config` (checked and scrubbed by the route) in its
/// project; answers the `ProjectConfigResponse`.
pub(crate) fn create_model_config(
    c: &mut Connection,
    project: Option<String>,
    project_id: Option<String>,
    config: Value,
) -> Result<Value, StoreError> {
    let tx = c.transaction()?;
    let id = register(&tx, project.as_deref(), project_id.as_deref(), config)?;
    let answer = project_config(&tx, &id, None)?;
    tx.commit()?;
    Ok(answer)
}

/// Store a config in its project (once: registering an identical config again answers
/// the first one's id); answers its id.
pub(crate) fn register(
    c: &Connection,
    project: Option<&str>,
    project_id: Option<&str>,
    mut config: Value,
) -> Result<String, StoreError> {
    let project_id = resolve_project(c, project, project_id)?;
    scrub(&mut config);
    if let Value::Object(m) = &mut config {
        m.remove("type");
        m.remove("id");
    }
    let text = config.to_string();
    // The same config registered again in its project is the same config (as Humanloop).
    if let Some(id) = row(
        c,
        "SELECT id FROM model_configs WHERE project_id = ?1 AND body = ?2 LIMIT 1",
        params![project_id, text],
        |r| r.get(0),
    )? {
        return Ok(id);
    }
    let id = new_id("config");
    c.execute(
        "INSERT INTO model_configs (id, project_id, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, project_id, text, now()],
    )?;
    Ok(id)
}

/// `GET /model-configs/{id}`: the `ModelConfigResponse`, plus `project_id` and
/// `created_at`.
pub(crate) fn get_model_config(c: &Connection, id: &str) -> Result<Value, StoreError> {
    let s = load(c, id)?.ok_or_else(|| StoreError::not_found("model config", id))?;
    let mut v = config_response(id, s.body);
    if let Some(p) = s.project_id {
        v["project_id"] = json!(p);
    }
    v["created_at"] = json!(s.created_at);
    Ok(v)
}

/// Config `id` as a `ProjectConfigResponse` (with `environment_id` when given, as
/// `GetModelConfigResponse`). `last_used` is the latest log made with it, or its creation.
pub(crate) fn project_config(
    c: &Connection,
    id: &str,
    environment_id: Option<&str>,
) -> Result<Value, StoreError> {
    let s = load(c, id)?.ok_or_else(|| StoreError::not_found("model config", id))?;
    let project_id = s.project_id.unwrap_or_default();
    let project_name = super::projects::project_name(c, &project_id)?.unwrap_or_default();
    let last_used: Option<String> = row(
        c,
        "SELECT MAX(created_at) FROM datapoints WHERE project_id = ?1
         AND json_extract(body, '$.config_id') = ?2",
        params![project_id, id],
        |r| r.get(0),
    )?
    .flatten();
    let mut v = json!({
        "project_id": project_id,
        "project_name": project_name,
        "created_at": s.created_at,
        "updated_at": s.created_at,
        "last_used": last_used.unwrap_or_else(|| s.created_at.clone()),
        "config": config_response(id, s.body),
    });
    if let Some(env) = environment_id {
        v["environment_id"] = json!(env);
    }
    Ok(v)
}

/// The configs of a project, oldest first, as `ProjectConfigResponse`s.
pub(crate) fn project_configs(c: &Connection, project_id: &str) -> Result<Vec<Value>, StoreError> {
    let ids: Vec<String> = c
        .prepare("SELECT id FROM model_configs WHERE project_id = ?1 ORDER BY created_at, id")?
        .query_map([project_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.iter().map(|id| project_config(c, id, None)).collect()
}

/// One environment a config is deployed to (`{id, name?}` of the request).
#[derive(Clone, Debug, serde::Deserialize)]
pub(crate) struct Environment {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
}

/// `PATCH /projects/{id}/deploy-config`: deploy `config_id` (of this project) to each of
/// `environments` (the default `production` when none), replacing what they had.
pub(crate) fn deploy(
    c: &mut Connection,
    project_id: &str,
    config_id: &str,
    environments: Option<Vec<Environment>>,
) -> Result<Vec<Value>, StoreError> {
    let tx = c.transaction()?;
    super::projects::require(&tx, project_id)?;
    let owner: Option<Option<String>> = row(
        &tx,
        "SELECT project_id FROM model_configs WHERE id = ?1",
        [config_id],
        |r| r.get(0),
    )?;
    match owner {
        None => return Err(StoreError::not_found("model config", config_id)),
        Some(p) if p.as_deref() != Some(project_id) => {
            return Err(StoreError::invalid(
                vec![json!("body"), json!("config_id")],
                format!("config '{config_id}' belongs to another project"),
                "value_error",
            ))
        }
        Some(_) => {}
    }
    let environments = environments.filter(|e| !e.is_empty()).unwrap_or_else(|| {
        vec![Environment {
            id: DEFAULT_ENVIRONMENT.0.to_owned(),
            name: Some(DEFAULT_ENVIRONMENT.1.to_owned()),
        }]
    });
    let at = now();
    for env in &environments {
        // An environment is known by id; a name given once is kept.
        let name = match &env.name {
            Some(n) => n.clone(),
            None => row(
                &tx,
                "SELECT environment_name FROM deployments WHERE environment_id = ?1 LIMIT 1",
                [&env.id],
                |r| r.get(0),
            )?
            .unwrap_or_else(|| env.id.clone()),
        };
        tx.execute(
            "INSERT INTO deployments (project_id, environment_id, environment_name, config_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (project_id, environment_id) DO UPDATE SET
               environment_name = excluded.environment_name, config_id = excluded.config_id,
               updated_at = excluded.updated_at",
            params![project_id, env.id, name, config_id, at],
        )?;
    }
    super::projects::touch(&tx, project_id)?;
    let out = deployed(&tx, project_id)?;
    tx.commit()?;
    Ok(out)
}

/// `GET /projects/{id}/deployed-configs`: every environment of the project with its config.
pub(crate) fn deployed(c: &Connection, project_id: &str) -> Result<Vec<Value>, StoreError> {
    super::projects::require(c, project_id)?;
    let project_name = super::projects::project_name(c, project_id)?.unwrap_or_default();
    let mut stmt = c.prepare(
        "SELECT d.environment_id, d.environment_name, d.config_id, m.body
         FROM deployments d LEFT JOIN model_configs m ON m.id = d.config_id
         WHERE d.project_id = ?1 ORDER BY d.environment_name",
    )?;
    let rows = stmt.query_map([project_id], |r| {
        let (env_id, env_name, config_id, body): (String, String, String, Option<String>) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let config_name = body
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_owned));
        let tag = if env_name == DEFAULT_ENVIRONMENT.1 {
            "default"
        } else {
            "other"
        };
        Ok(json!({
            "project_id": project_id,
            "project_name": project_name,
            "environment_id": env_id,
            "environment_name": env_name,
            "environment_tag": tag,
            "model_config_id": config_id,
            "model_config_name": config_name,
        }))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `DELETE /projects/{id}/deployed-config/{environment_id}`.
pub(crate) fn undeploy(
    c: &mut Connection,
    project_id: &str,
    environment_id: &str,
) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    let n = tx.execute(
        "DELETE FROM deployments WHERE project_id = ?1 AND environment_id = ?2",
        params![project_id, environment_id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "no config of project '{project_id}' is deployed to environment '{environment_id}'"
        )));
    }
    super::projects::touch(&tx, project_id)?;
    tx.commit()?;
    Ok(())
}

/// The config a project serves in `environment` (a name or an id), with the environment's
/// id. Without an environment: the project's active config, else the one deployed to
/// `production`, else its latest config.
pub(crate) fn active_config(
    c: &Connection,
    project_id: &str,
    environment: Option<&str>,
) -> Result<(String, Option<String>), StoreError> {
    super::projects::require(c, project_id)?;
    let deployed_to = |env: &str| -> rusqlite::Result<Option<(String, String)>> {
        row(
            c,
            "SELECT config_id, environment_id FROM deployments
             WHERE project_id = ?1 AND (environment_name = ?2 OR environment_id = ?2)",
            params![project_id, env],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    };
    if let Some(env) = environment {
        return match deployed_to(env)? {
            Some((config, env_id)) => Ok((config, Some(env_id))),
            None => Err(StoreError::NotFound(format!(
                "no config of project '{project_id}' is deployed to environment '{env}'"
            ))),
        };
    }
    if let Some(id) = super::projects::active_config_id(c, project_id)? {
        return Ok((id, None));
    }
    if let Some((config, env_id)) = deployed_to(DEFAULT_ENVIRONMENT.1)? {
        return Ok((config, Some(env_id)));
    }
    c.query_row(
        "SELECT id FROM model_configs WHERE project_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1",
        [project_id],
        |r| r.get(0),
    )
    .optional()?
    .map(|id| (id, None))
    .ok_or_else(|| StoreError::NotFound(format!("project '{project_id}' has no model config")))
}

/// The config a deployed completion or chat uses: the project named by id or name, then
/// [`active_config`].
pub(crate) fn deployed_config_id(
    c: &Connection,
    project: Option<&str>,
    project_id: Option<&str>,
    environment: Option<&str>,
) -> Result<String, StoreError> {
    let project_id = match (project_id, project) {
        (Some(id), _) => id.to_owned(),
        (None, Some(name)) => super::projects::project_by_name(c, name)?
            .ok_or_else(|| StoreError::NotFound(format!("project '{name}' not found")))?,
        (None, None) => {
            return Err(StoreError::invalid(
                vec![json!("body"), json!("project")],
                "project or project_id is required",
                "value_error.missing",
            ))
        }
    };
    Ok(active_config(c, &project_id, environment)?.0)
}
