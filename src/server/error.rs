//! Error answers: 422 validation lists and `{"detail": …}` for everything else.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::store::StoreError;
use crate::api::{ValidationError, ValidationErrorBody};

/// An error answer of the API.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 422 with a `detail` list.
    Validation(Vec<ValidationError>),
    /// Any other status with `{"detail": …}`.
    Status(StatusCode, Value),
}

impl ApiError {
    pub(crate) fn status(status: StatusCode, detail: impl Into<Value>) -> Self {
        Self::Status(status, detail.into())
    }

    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Self::status(StatusCode::INTERNAL_SERVER_ERROR, msg.into())
    }

    /// One 422 entry at `loc` (strings or indices).
    pub(crate) fn invalid(loc: Vec<Value>, msg: impl Into<String>, kind: &str) -> Self {
        Self::Validation(vec![entry(loc, msg, kind)])
    }
}

/// A 422 entry.
pub(crate) fn entry(loc: Vec<Value>, msg: impl Into<String>, kind: &str) -> ValidationError {
    let mut e = ValidationError::new(&[], msg, kind);
    e.loc = loc;
    e
}

/// `["body", …path]`.
pub(crate) fn body_loc(prefix: &[Value], field: &str) -> Vec<Value> {
    let mut loc = prefix.to_vec();
    loc.push(Value::String(field.to_owned()));
    loc
}

/// The one place storage outcomes become HTTP statuses.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(msg) => Self::status(StatusCode::NOT_FOUND, msg),
            StoreError::Conflict(msg) => Self::status(StatusCode::CONFLICT, msg),
            StoreError::Validation(errors) => Self::Validation(errors),
            StoreError::Internal(msg) => Self::internal(msg),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Validation(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationErrorBody { detail }),
            )
                .into_response(),
            ApiError::Status(status, detail) => {
                (status, Json(json!({ "detail": detail }))).into_response()
            }
        }
    }
}
