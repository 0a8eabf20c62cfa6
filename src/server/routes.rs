//! The `/v4` routes, API key check and error fallbacks.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::completion::{completion, model_config_body, v4_completion, ConfigFrom};
use super::error::ApiError;
use super::store::configs;
use super::store::logs::{self, LogFilter, PatchTarget};
use super::store::sessions::{self, SessionQuery};
use super::validate::{body, body_bytes, check_log, from_value, parse, JsonBody, QueryParams};
use super::ServerState;
use super::{projects, prompt_file};
use crate::api::{LogRequest, OneOrMany, UpdateLogRequest};

pub(crate) fn router(state: ServerState) -> Router {
    let limit = state.inner.body_limit;
    let v4 = Router::new()
        .route(
            "/logs",
            post(create_logs)
                .get(list_logs)
                .patch(patch_log_by_reference)
                .delete(delete_logs),
        )
        .route("/logs/{id}", get(get_log).patch(patch_log_by_id))
        .route("/sessions", post(create_session).get(list_sessions))
        .route("/sessions/{id}", get(get_session))
        .route("/model-configs", post(create_model_config))
        .route("/model-configs/{id}", get(get_model_config))
        .route("/model-configs/{id}/export", post(prompt_file::export))
        .route("/model-configs/serialize", post(prompt_file::serialize))
        .route("/model-configs/deserialize", post(prompt_file::deserialize))
        .route("/completion-model-config", post(completion))
        .route(
            "/completion",
            post(|s: State<ServerState>, b: JsonBody<Value>| v4(s, b, ConfigFrom::Inline, false)),
        )
        .route(
            "/completion-deployed",
            post(|s: State<ServerState>, b: JsonBody<Value>| v4(s, b, ConfigFrom::Deployed, false)),
        )
        .route(
            "/chat",
            post(|s: State<ServerState>, b: JsonBody<Value>| v4(s, b, ConfigFrom::Inline, true)),
        )
        .route(
            "/chat-model-config",
            post(|s: State<ServerState>, b: JsonBody<Value>| v4(s, b, ConfigFrom::Saved, true)),
        )
        .route(
            "/chat-deployed",
            post(|s: State<ServerState>, b: JsonBody<Value>| v4(s, b, ConfigFrom::Deployed, true)),
        )
        .route("/feedback", post(projects::feedback))
        .merge(projects::routes())
        .merge(out_of_scope())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), check_api_key));
    // Other applications on the same state (the web UI) merge here, outside `/v4`.
    Router::new()
        .nest("/v4", v4)
        .merge(super::ui::router(&state))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn v4(
    State(state): State<ServerState>,
    JsonBody(body): JsonBody<Value>,
    from: ConfigFrom,
    chat: bool,
) -> Result<Response, ApiError> {
    v4_completion(state, body, from, chat).await
}

/// Datasets, evaluations and evaluators (and the dataset datapoints) are not served:
/// 501 with a `detail` saying so, for every method, rather than a 404.
fn out_of_scope() -> Router<ServerState> {
    let paths = [
        "/datasets",
        "/datasets/{*rest}",
        "/datapoints",
        "/datapoints/{*rest}",
        "/evaluations",
        "/evaluations/{*rest}",
        "/evaluators",
        "/evaluators/{*rest}",
        "/projects/{id}/datasets",
        "/projects/{id}/evaluations",
    ];
    paths
        .into_iter()
        .fold(Router::new(), |r, p| r.route(p, any(not_implemented)))
}

async fn not_implemented() -> ApiError {
    ApiError::status(
        StatusCode::NOT_IMPLEMENTED,
        "datasets, evaluations and evaluators are not implemented by this endpoint \
         (humanloop-tracing serve records logs, sessions, feedback, projects and model configs)",
    )
}

async fn not_found() -> ApiError {
    ApiError::status(StatusCode::NOT_FOUND, "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::status(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

/// `X-API-KEY` must be one of the configured keys; no keys configured = open.
async fn check_api_key(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let keys = &state.inner.api_keys;
    if keys.is_empty() {
        return next.run(req).await;
    }
    let given = req.headers().get("x-api-key").map(|v| v.as_bytes());
    match given {
        Some(g) if keys.iter().any(|k| constant_time_eq(k.as_bytes(), g)) => next.run(req).await,
        Some(_) => ApiError::status(StatusCode::UNAUTHORIZED, "invalid API key").into_response(),
        None => {
            ApiError::status(StatusCode::UNAUTHORIZED, "missing X-API-KEY header").into_response()
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn create_logs(State(state): State<ServerState>, req: Request) -> Result<Response, ApiError> {
    let bytes = body_bytes(req, &()).await?;
    let (logs, many) = match parse_logs_typed(&bytes) {
        Some((logs, many)) => {
            let mut errors = Vec::new();
            let mut prefix = vec![body()];
            for (i, log) in logs.iter().enumerate() {
                if many {
                    prefix.truncate(1);
                    prefix.push(json!(i));
                }
                check_log(log, &prefix, &mut errors);
            }
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            (logs, many)
        }
        None => parse_logs_located(&bytes)?,
    };
    let out = logs::create(&state.inner.store, logs, many).await?;
    let answer = if many {
        OneOrMany::Many(out)
    } else {
        OneOrMany::One(out.into_iter().next().unwrap_or_default())
    };
    Ok(Json(answer).into_response())
}

/// The common case: a well-formed body decoded straight into the typed logs (no `Value`
/// tree, no path tracking). `None` when it is not, so [`parse_logs_located`] reports
/// every problem with its location; a body that decodes here decodes the same way there.
fn parse_logs_typed(bytes: &[u8]) -> Option<(Vec<LogRequest>, bool)> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(bytes).ok().map(|logs| (logs, true)),
        Some(b'{') => serde_json::from_slice(bytes)
            .ok()
            .map(|log| (vec![log], false)),
        _ => None,
    }
}

/// Decode item by item and check each, collecting the located errors of every item in
/// item order.
fn parse_logs_located(bytes: &[u8]) -> Result<(Vec<LogRequest>, bool), ApiError> {
    let value: Value = parse(bytes)?;
    let (items, many) = match value {
        Value::Array(items) => (items, true),
        obj @ Value::Object(_) => (vec![obj], false),
        _ => {
            return Err(ApiError::invalid(
                vec![body()],
                "expected a log object or an array of log objects",
                "type_error",
            ))
        }
    };
    let mut errors = Vec::new();
    let mut logs = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if many {
            vec![body(), json!(i)]
        } else {
            vec![body()]
        };
        match from_value::<LogRequest>(item, &prefix) {
            Ok(log) => {
                check_log(&log, &prefix, &mut errors);
                logs.push(log);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok((logs, many))
}

async fn get_log(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| logs::get_log(c, &id)).await
}

async fn list_logs(
    State(state): State<ServerState>,
    QueryParams(filter): QueryParams<LogFilter>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| logs::list_logs(c, &filter)).await
}

async fn patch_log_by_id(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<UpdateLogRequest>,
) -> Result<Json<Value>, ApiError> {
    state
        .answer(move |c| logs::patch_log(c, Some(id), PatchTarget::default(), patch))
        .await
}

async fn patch_log_by_reference(
    State(state): State<ServerState>,
    QueryParams(target): QueryParams<PatchTarget>,
    JsonBody(patch): JsonBody<UpdateLogRequest>,
) -> Result<Json<Value>, ApiError> {
    state
        .answer(move |c| logs::patch_log(c, None, target, patch))
        .await
}

#[derive(Debug, Default, serde::Deserialize)]
struct NewSession {
    project: Option<String>,
    project_id: Option<String>,
    reference_id: Option<String>,
}

/// `POST /sessions`: no body needed; `{project?, project_id?, reference_id?}` accepted.
async fn create_session(
    State(state): State<ServerState>,
    req: Request,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(req, &()).await?;
    let new: NewSession = if bytes.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        parse(&bytes)?
    };
    let id = state
        .inner
        .store
        .run(move |c| sessions::create_session(c, new.project, new.project_id, new.reference_id))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

async fn get_session(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| sessions::get_session(c, &id)).await
}

/// `POST /model-configs`: a model config (`type: "model"` optional) plus `project` or
/// `project_id` (the `default` project when neither); answers its `ProjectConfigResponse`.
async fn create_model_config(
    State(state): State<ServerState>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let Value::Object(mut map) = value else {
        return Err(ApiError::invalid(
            vec![body()],
            "expected a model config object",
            "type_error",
        ));
    };
    let mut take = |key: &str| -> Result<Option<String>, ApiError> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(
                vec![body(), json!(key)],
                "expected a string",
                "type_error",
            )),
        }
    };
    let project = take("project")?;
    let project_id = take("project_id")?;
    let config = model_config_body(Value::Object(map), &[body()])?;
    state
        .answer(move |c| configs::create_model_config(c, project, project_id, config))
        .await
}

async fn get_model_config(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .answer(move |c| configs::get_model_config(c, &id))
        .await
}

async fn list_sessions(
    State(state): State<ServerState>,
    QueryParams(q): QueryParams<SessionQuery>,
) -> Result<Json<Value>, ApiError> {
    state.answer(move |c| sessions::list_sessions(c, &q)).await
}

/// `DELETE /logs?id=A&id=B`: 204; the ids repeat the `id` parameter (the SDK's form).
async fn delete_logs(
    State(state): State<ServerState>,
    uri: axum::http::Uri,
) -> Result<StatusCode, ApiError> {
    let ids: Vec<String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.into_owned())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::invalid(
            vec![json!("query"), json!("id")],
            "field required",
            "value_error.missing",
        ));
    }
    state
        .inner
        .store
        .run(move |c| logs::delete_logs(c, &ids))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
