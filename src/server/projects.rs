//! The project routes of the v4 API (create, list, read, update, delete; configs, active
//! config, deployments, feedback types, export) and `POST /feedback`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::store::configs::{self, Environment};
use super::store::feedback;
use super::store::logs::{self, LogFilter};
use super::store::projects::{self, FeedbackTypeRequest, ProjectQuery, ProjectUpdate};
use super::validate::{body, JsonBody, QueryParams};
use super::ServerState;

/// The `/projects` routes, to merge into the `/v4` router.
pub(crate) fn routes() -> Router<ServerState> {
    Router::new()
        .route("/projects", post(create).get(list))
        .route("/projects/{id}", get(read).patch(update).delete(remove))
        .route("/projects/{id}/configs", get(configs_of))
        .route(
            "/projects/{id}/active-config",
            get(active_config).delete(clear_active),
        )
        .route("/projects/{id}/deploy-config", patch(deploy))
        .route("/projects/{id}/deployed-configs", get(deployed))
        .route(
            "/projects/{id}/deployed-config/{environment_id}",
            delete(undeploy),
        )
        .route(
            "/projects/{id}/feedback-types",
            post(add_feedback_type).patch(feedback_types),
        )
        .route("/projects/{id}/export", post(export))
}

#[derive(Debug, serde::Deserialize)]
struct NewProject {
    name: String,
    directory_id: Option<String>,
}

async fn create(
    State(state): State<ServerState>,
    JsonBody(new): JsonBody<NewProject>,
) -> Result<Json<Value>, ApiError> {
    if new.name.trim().is_empty() {
        return Err(ApiError::invalid(
            vec![body(), json!("name")],
            "must not be empty",
            "value_error",
        ));
    }
    let out = state
        .inner
        .store
        .run(move |c| projects::create(c, &new.name, new.directory_id.as_deref()))
        .await?;
    Ok(Json(out))
}

async fn list(
    State(state): State<ServerState>,
    QueryParams(q): QueryParams<ProjectQuery>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| projects::list(c, &q)).await
}

async fn read(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .answer(move |c| projects::project_response(c, &id))
        .await
}

async fn update(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<ProjectUpdate>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| projects::update(c, &id, u)).await
}

async fn remove(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .inner
        .store
        .run(move |c| projects::delete(c, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn configs_of(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let out = state
        .inner
        .store
        .run(move |c| {
            projects::require(c, &id)?;
            configs::project_configs(c, &id)
        })
        .await?;
    Ok(Json(Value::Array(out)))
}

#[derive(Debug, Default, serde::Deserialize)]
struct EnvironmentQuery {
    environment: Option<String>,
}

async fn active_config(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EnvironmentQuery>,
) -> Result<Json<Value>, ApiError> {
    state
        .answer(move |c| {
            let (config, env) = configs::active_config(c, &id, q.environment.as_deref())?;
            configs::project_config(c, &config, env.as_deref())
        })
        .await
}

async fn clear_active(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| projects::clear_active(c, &id)).await
}

#[derive(Debug, serde::Deserialize)]
struct DeployRequest {
    config_id: String,
    environments: Option<Vec<Environment>>,
}

async fn deploy(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<DeployRequest>,
) -> Result<Json<Value>, ApiError> {
    let out = state
        .inner
        .store
        .run(move |c| configs::deploy(c, &id, &req.config_id, req.environments))
        .await?;
    Ok(Json(Value::Array(out)))
}

async fn deployed(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let out = state
        .inner
        .store
        .run(move |c| configs::deployed(c, &id))
        .await?;
    Ok(Json(Value::Array(out)))
}

async fn undeploy(
    State(state): State<ServerState>,
    Path((id, environment_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state
        .inner
        .store
        .run(move |c| configs::undeploy(c, &id, &environment_id))
        .await?;
    Ok(Json(json!({})))
}

async fn add_feedback_type(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    JsonBody(t): JsonBody<FeedbackTypeRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut out = state
        .inner
        .store
        .run(move |c| projects::set_feedback_types(c, &id, vec![t]))
        .await?;
    Ok(Json(out.pop().unwrap_or_else(|| json!({}))))
}

/// `PATCH /projects/{id}/feedback-types`: a list of types to add or replace (the SDK
/// sends no body, as the hosted route was retired); answers the project's types.
async fn feedback_types(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Result<Json<Value>, ApiError> {
    let bytes = super::validate::body_bytes(req, &()).await?;
    let types: Vec<FeedbackTypeRequest> = if bytes.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        super::validate::parse(&bytes)?
    };
    let project = state
        .inner
        .store
        .run(move |c| {
            projects::set_feedback_types(c, &id, types)?;
            projects::project_response(c, &id)
        })
        .await?;
    Ok(Json(json!({"feedback_types": project["feedback_types"]})))
}

#[derive(Debug, Default, serde::Deserialize)]
struct Page {
    page: Option<u64>,
    size: Option<u64>,
}

/// `POST /projects/{id}/export`: the project's logs, a page at a time.
async fn export(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<Page>,
) -> Result<Json<Value>, ApiError> {
    state
        .answer(move |c| {
            projects::require(c, &id)?;
            let filter = LogFilter {
                project_id: Some(id),
                page: p.page,
                size: p.size,
                ..LogFilter::default()
            };
            logs::list_logs(c, &filter)
        })
        .await
}

/// `POST /feedback`: one item or a list (answered in the same shape).
pub(crate) async fn feedback(
    State(state): State<ServerState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let (items, many) = match body {
        Value::Array(items) => (items, true),
        one @ Value::Object(_) => (vec![one], false),
        _ => {
            return Err(ApiError::invalid(
                vec![body_loc_root()],
                "expected a feedback object or a list of them",
                "type_error",
            ))
        }
    };
    let mut out = state
        .inner
        .store
        .run(move |c| feedback::submit(c, items))
        .await?;
    Ok(Json(if many {
        Value::Array(out)
    } else {
        out.pop().unwrap_or_else(|| json!({}))
    }))
}

fn body_loc_root() -> Value {
    body()
}
