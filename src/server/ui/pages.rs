//! The page handlers: bring the UI's index up to date, query, render.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use minijinja::Environment;
use serde_json::{json, Value};

use super::auth::Logins;
use super::chart::{project_stats, secs, usd, Grid};
use super::queries::{self, SessionFilter};
use super::{index, view};
use crate::server::error::ApiError;
use crate::server::store::StoreError;
use crate::server::ServerState;

/// The UI's own state: templates, the server's API keys, the logins.
pub(crate) struct Ui {
    env: Environment<'static>,
    pub(crate) api_keys: Vec<String>,
    pub(crate) logins: Logins,
    migrated: AtomicBool,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("login.html", include_str!("templates/login.html")),
    ("error.html", include_str!("templates/error.html")),
    ("sessions.html", include_str!("templates/sessions.html")),
    ("session.html", include_str!("templates/session.html")),
    ("log.html", include_str!("templates/log.html")),
    ("projects.html", include_str!("templates/projects.html")),
    ("project.html", include_str!("templates/project.html")),
    (
        "model_configs.html",
        include_str!("templates/model_configs.html"),
    ),
    (
        "model_config.html",
        include_str!("templates/model_config.html"),
    ),
];

impl Ui {
    pub(crate) fn new(api_keys: Vec<String>) -> Self {
        let mut env = Environment::new();
        // Names end in `.html`: minijinja escapes every `{{ }}` for HTML (quotes included).
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "humanloop-tracing UI: bad template");
            }
        }
        env.add_filter("secs", |v: Option<f64>| v.map(secs).unwrap_or_default());
        env.add_filter("usd", |v: Option<f64>| v.map(usd).unwrap_or_default());
        env.add_filter("grouped", |v: Option<i64>| v.map(group).unwrap_or_default());
        env.add_filter("ms_time", |v: Option<i64>| {
            v.map(|ms| queries::rfc3339_ms(ms).replace('T', " "))
                .unwrap_or_default()
        });
        env.add_filter("time", |v: Option<String>| {
            v.map(|t| {
                let t = t.replace('T', " ");
                // Seconds are enough in lists: `YYYY-MM-DD HH:MM:SS`.
                match t.find('.') {
                    Some(dot) => format!("{}Z", &t[..dot]),
                    None => t,
                }
            })
            .unwrap_or_default()
        });
        env.add_filter("pct", |v: f64| format!("{:.1}%", v * 100.0));
        env.add_filter("enc", |v: String| {
            url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
        });
        Ui {
            env,
            api_keys,
            logins: Logins::default(),
            migrated: AtomicBool::new(false),
        }
    }
}

/// `12345` → `12 345` (thin grouping that reads in any locale).
fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// Render `name` with `ctx` (plus `auth`: whether a login is needed) as an HTML answer.
pub(crate) fn render(ui: &Ui, name: &str, ctx: Value) -> Response {
    let mut ctx = ctx;
    if let Value::Object(m) = &mut ctx {
        m.insert("auth".into(), Value::Bool(!ui.api_keys.is_empty()));
    }
    let html = ui
        .env
        .get_template(name)
        .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
    match html {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "humanloop-tracing UI: render failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

fn error_page(ui: &Ui, e: ApiError) -> Response {
    let (status, detail) = match e {
        ApiError::Status(s, Value::String(d)) => (s, d),
        ApiError::Status(s, d) => (s, d.to_string()),
        ApiError::Validation(v) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let mut resp = render(
        ui,
        "error.html",
        json!({"status": status.as_u16(), "detail": detail}),
    );
    *resp.status_mut() = status;
    resp
}

/// Bring the index up to date (in batches, releasing the store between them), then run
/// `f` on the connection; `true` with the answer when logs remain to be indexed.
async fn load<T, F>(state: &ServerState, ui: &Ui, f: F) -> Result<(T, bool), ApiError>
where
    F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = &state.inner.store;
    if !ui.migrated.load(Ordering::Acquire) {
        store.run(|c| Ok(index::migrate(c)?)).await?;
        ui.migrated.store(true, Ordering::Release);
    }
    let mut behind = true;
    for _ in 0..MAX_SYNC_BATCHES {
        behind = store.run(|c| Ok(index::sync(c)?)).await?;
        if !behind {
            break;
        }
    }
    let value = store.run(f).await?;
    Ok((value, behind))
}

/// Batches of [`index::BATCH`] logs indexed before a page answers: a page never waits for
/// a backlog of more than this (it says that it is behind; the next page continues).
const MAX_SYNC_BATCHES: usize = 20;

fn page_of(p: Option<i64>) -> i64 {
    p.unwrap_or(1).clamp(1, 1_000_000)
}

fn done(ui: &Ui, name: &str, r: Result<(Value, bool), ApiError>) -> Response {
    match r {
        Ok((mut ctx, behind)) => {
            if let Value::Object(m) = &mut ctx {
                m.insert("behind".into(), Value::Bool(behind));
            }
            render(ui, name, ctx)
        }
        Err(e) => error_page(ui, e),
    }
}

/// `GET /`: the sessions.
pub(crate) async fn sessions(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
    Query(f): Query<SessionFilter>,
) -> Response {
    let r = load(&state, &ui, move |c| {
        let (rows, more) = queries::sessions(c, &f)?;
        let page = f.page();
        Ok(json!({
            "nav": "sessions",
            "sessions": rows,
            "filter": f,
            "projects": queries::projects(c)?,
            "models": queries::models(c)?,
            "page": page,
            "prev": (page > 1).then(|| f.query_for_page(page - 1)),
            "next": more.then(|| f.query_for_page(page + 1)),
        }))
    })
    .await;
    done(&ui, "sessions.html", r)
}

/// `GET /sessions/{id}`: the tree and its timeline.
pub(crate) async fn session(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(id): Path<String>,
) -> Response {
    let r = load(&state, &ui, move |c| {
        let head =
            queries::session_head(c, &id)?.ok_or_else(|| StoreError::not_found("session", &id))?;
        let logs = queries::session_logs(c, &id)?;
        let capped = logs.len() as i64 >= queries::MAX_SESSION_LOGS;
        let (rows, totals) = view::tree(logs);
        Ok(json!({
            "nav": "sessions",
            "session": {
                "id": head.id, "reference_id": head.reference_id, "project_id": head.project_id,
                "project": head.project, "created_at": head.created_at,
            },
            "rows": rows,
            "totals": totals,
            "capped": capped,
            "max_logs": queries::MAX_SESSION_LOGS,
        }))
    })
    .await;
    done(&ui, "session.html", r)
}

/// `GET /logs/{id}`: everything stored about one log.
pub(crate) async fn log(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(id): Path<String>,
) -> Response {
    let r = load(&state, &ui, move |c| {
        let log = crate::server::store::logs::get_log(c, &id)?;
        let facts = queries::log_facts(c, &id)?.unwrap_or_default();
        let config_id = log.get("config_id").and_then(Value::as_str);
        let saved_config = match config_id {
            Some(cid) => queries::config(c, cid)?,
            None => None,
        };
        let project = match log.get("project_id").and_then(Value::as_str) {
            Some(p) => queries::project_name(c, p)?,
            None => None,
        };
        let saved_body: Value = saved_config
            .as_ref()
            .and_then(|s| serde_json::from_str(&s.body).ok())
            .unwrap_or(Value::Null);
        let config = log.get("config").cloned().unwrap_or(saved_body);
        Ok(log_context(
            &log,
            &facts,
            &config,
            saved_config.is_some(),
            project,
        ))
    })
    .await;
    done(&ui, "log.html", r)
}

fn log_context(
    log: &Value,
    facts: &queries::LogRow,
    config: &Value,
    saved_config: bool,
    project: Option<String>,
) -> Value {
    let meta = log.get("metadata");
    let meta_int = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_i64);
    let num = |k: &str| log.get(k).and_then(Value::as_f64);
    let int = |k: &str| log.get(k).and_then(Value::as_i64);
    let saved = log.get("save") != Some(&Value::Bool(false));
    let mut output_messages = Vec::new();
    if let Some(m) = log.get("output_message").filter(|m| m.is_object()) {
        output_messages.push(view::message(m));
    }
    let top_tool_calls = log
        .get("tool_calls")
        .filter(|t| t.as_array().is_some_and(|a| !a.is_empty()))
        .map(|t| view::message(&json!({"role": "assistant", "tool_calls": t})));
    output_messages.extend(top_tool_calls);
    let optional_json = |k: &str| log.get(k).filter(|v| !v.is_null()).map(view::pretty);
    let prompt_tokens = int("prompt_tokens");
    let output_tokens = int("output_tokens");
    let mut ctx = serde_json::Map::new();
    ctx.insert("nav".into(), json!("sessions"));
    ctx.insert("id".into(), json!(log.get("id")));
    ctx.insert("session_id".into(), json!(log.get("session_id")));
    ctx.insert("parent_id".into(), json!(log.get("parent_id")));
    ctx.insert("project_id".into(), json!(log.get("project_id")));
    ctx.insert("project".into(), json!(project));
    ctx.insert("reference_id".into(), json!(log.get("reference_id")));
    ctx.insert("created_at".into(), json!(log.get("created_at")));
    ctx.insert("updated_at".into(), json!(log.get("updated_at")));
    ctx.insert("kind".into(), json!(facts.kind));
    ctx.insert("name".into(), json!(facts.name));
    ctx.insert("model".into(), json!(facts.model));
    ctx.insert("provider".into(), json!(config.get("provider")));
    ctx.insert("config_id".into(), json!(log.get("config_id")));
    ctx.insert("saved_config".into(), json!(saved_config));
    ctx.insert("params".into(), json!(view::params(config)));
    ctx.insert(
        "chat_template".into(),
        json!(view::messages(config.get("chat_template"))),
    );
    ctx.insert(
        "prompt_template".into(),
        json!(config.get("prompt_template")),
    );
    ctx.insert(
        "tools".into(),
        json!(config
            .get("tools")
            .filter(|t| !t.is_null())
            .map(view::pretty)),
    );
    ctx.insert("saved".into(), json!(saved));
    ctx.insert(
        "messages".into(),
        json!(view::messages(log.get("messages"))),
    );
    ctx.insert("prompt".into(), json!(log.get("prompt")));
    ctx.insert("output".into(), json!(log.get("output")));
    ctx.insert("output_messages".into(), json!(output_messages));
    ctx.insert("finish_reason".into(), json!(log.get("finish_reason")));
    ctx.insert(
        "error".into(),
        json!(log.get("error").filter(|e| !e.is_null())),
    );
    ctx.insert("duration".into(), json!(num("duration")));
    ctx.insert("ttft".into(), json!(facts.ttft));
    ctx.insert("prompt_tokens".into(), json!(prompt_tokens));
    ctx.insert("output_tokens".into(), json!(output_tokens));
    ctx.insert(
        "total_tokens".into(),
        json!(match (prompt_tokens, output_tokens) {
            (None, None) => None,
            (p, o) => Some(p.unwrap_or(0) + o.unwrap_or(0)),
        }),
    );
    ctx.insert(
        "cache_read_tokens".into(),
        json!(meta_int("gen_ai.usage.cache_read.input_tokens")),
    );
    ctx.insert(
        "cache_creation_tokens".into(),
        json!(meta_int("gen_ai.usage.cache_creation.input_tokens")),
    );
    ctx.insert(
        "reasoning_tokens".into(),
        json!(meta_int("gen_ai.usage.reasoning.output_tokens")),
    );
    ctx.insert("prompt_cost".into(), json!(num("prompt_cost")));
    ctx.insert("output_cost".into(), json!(num("output_cost")));
    ctx.insert("cost".into(), json!(facts.cost));
    ctx.insert("inputs".into(), json!(view::rows(log.get("inputs"))));
    ctx.insert("metadata".into(), json!(view::rows(meta)));
    ctx.insert("feedback".into(), json!(optional_json("feedback")));
    ctx.insert("judgment".into(), json!(optional_json("judgment")));
    ctx.insert(
        "provider_request".into(),
        json!(optional_json("provider_request")),
    );
    ctx.insert(
        "provider_response".into(),
        json!(optional_json("provider_response")),
    );
    ctx.insert("source".into(), json!(log.get("source")));
    ctx.insert("environment".into(), json!(log.get("environment")));
    ctx.insert("user".into(), json!(log.get("user")));
    Value::Object(ctx)
}

/// `GET /projects`.
pub(crate) async fn projects(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
) -> Response {
    let r = load(&state, &ui, move |c| {
        Ok(json!({"nav": "projects", "projects": queries::project_list(c)?}))
    })
    .await;
    done(&ui, "projects.html", r)
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct RangeQuery {
    range: Option<String>,
    page: Option<i64>,
}

/// `GET /projects/{id}?range=24h|7d|30d|all`.
pub(crate) async fn project(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Response {
    let r = load(&state, &ui, move |c| {
        let name =
            queries::project_name(c, &id)?.ok_or_else(|| StoreError::not_found("project", &id))?;
        let now = queries::now_ms();
        let range = q.range.as_deref().unwrap_or("all");
        let since = match range {
            "1h" => Some(now - 3_600_000),
            "24h" => Some(now - 86_400_000),
            "7d" => Some(now - 7 * 86_400_000),
            "30d" => Some(now - 30 * 86_400_000),
            _ => None,
        };
        let since_ms = since.unwrap_or(i64::MIN);
        let (first, last) = queries::project_span(c, &id, since_ms)?;
        let grid = Grid::new(
            since.or(first).unwrap_or(now),
            if since.is_some() {
                now
            } else {
                last.unwrap_or(now)
            },
        );
        let (sums, latency) = queries::project_aggregates(c, &id, since_ms, grid)?;
        let models = queries::project_models(c, &id, since_ms)?;
        let stats = project_stats(grid, &sums, &latency, models);
        Ok(json!({
            "nav": "projects",
            "project": {"id": id, "name": name},
            "range": range,
            "stats": stats,
            "recent": queries::project_recent(c, &id)?,
        }))
    })
    .await;
    done(&ui, "project.html", r)
}

/// `GET /model-configs`.
pub(crate) async fn model_configs(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
    Query(q): Query<RangeQuery>,
) -> Response {
    let page = page_of(q.page);
    let r = load(&state, &ui, move |c| {
        let (rows, more) = queries::config_list(c, page)?;
        Ok(json!({
            "nav": "configs", "configs": rows, "page": page,
            "prev": (page > 1).then(|| page - 1), "next": more.then(|| page + 1),
        }))
    })
    .await;
    done(&ui, "model_configs.html", r)
}

/// `GET /model-configs/{id}`: the config and the logs made with it.
pub(crate) async fn model_config(
    State(state): State<ServerState>,
    Extension(ui): Extension<Arc<Ui>>,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Response {
    let page = page_of(q.page);
    let r = load(&state, &ui, move |c| {
        let config =
            queries::config(c, &id)?.ok_or_else(|| StoreError::not_found("model config", &id))?;
        let body: Value = serde_json::from_str(&config.body).unwrap_or(Value::Null);
        let (logs, more) = queries::config_logs(c, &id, page)?;
        Ok(json!({
            "nav": "configs",
            "config": config,
            "params": view::params(&body),
            "chat_template": view::messages(body.get("chat_template")),
            "prompt_template": body.get("prompt_template"),
            "tools": body.get("tools").filter(|t| !t.is_null()).map(view::pretty),
            "logs": logs, "page": page,
            "prev": (page > 1).then(|| page - 1), "next": more.then(|| page + 1),
        }))
    })
    .await;
    done(&ui, "model_config.html", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let ui = Ui::new(Vec::new());
        for (name, _) in TEMPLATES {
            ui.env.get_template(name).expect(name);
        }
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(group(-1000), "-1\u{202f}000");
    }
}
