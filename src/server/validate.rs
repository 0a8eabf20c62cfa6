//! Request bodies: JSON parsing with precise 422 locations, and the checks serde can not do.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::Value;

use super::error::{body_loc, entry, ApiError};
use crate::api::{CompletionModelConfigRequest, LogRequest, TemplateLanguage, ValidationError};

/// A JSON body whose errors are answered in the shape of `SPEC.md`: 413 when too large
/// (`{"detail": "..."}`), 422 with a `detail` list naming the offending field otherwise.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// Query parameters whose errors are 422 entries located under `query`.
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| QueryParams(q.0))
            .map_err(|rej| {
                ApiError::Validation(vec![entry(
                    vec![Value::String("query".to_owned())],
                    rej.body_text(),
                    "value_error",
                )])
            })
    }
}

/// The raw body, within the configured limit.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rej| ApiError::status(rej.status(), rej.body_text()))
}

/// Parse `bytes` as JSON into `T`; syntax errors and type errors become 422 entries.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| ApiError::Validation(vec![path_error(e, &[body()])]))?;
    de.end()
        .map_err(|e| ApiError::Validation(vec![json_error(&e)]))?;
    Ok(value)
}

/// Deserialize `value` into `T`, locating errors under `prefix` (e.g. `["body", 2]`).
pub(crate) fn from_value<T: DeserializeOwned>(
    value: Value,
    prefix: &[Value],
) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|e| path_error(e, prefix))
}

pub(crate) fn body() -> Value {
    Value::String("body".to_owned())
}

fn json_error(e: &serde_json::Error) -> ValidationError {
    entry(
        vec![body()],
        format!("invalid JSON: {e}"),
        "value_error.jsondecode",
    )
}

fn path_error(
    e: serde_path_to_error::Error<serde_json::Error>,
    prefix: &[Value],
) -> ValidationError {
    let inner = e.inner();
    if matches!(
        inner.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return json_error(inner);
    }
    let mut loc = prefix.to_vec();
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => loc.push(Value::from(*index)),
            serde_path_to_error::Segment::Map { key } => loc.push(Value::String(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => {
                loc.push(Value::String(variant.clone()))
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    // serde_json appends " at line L column C"; the location is in `loc` already.
    let msg = inner.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) if inner.line() > 0 => msg[..i].to_owned(),
        _ => msg,
    };
    if let Some(field) = msg
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        loc.push(Value::String(field.to_owned()));
        return entry(loc, "field required", "value_error.missing");
    }
    let kind = if msg.starts_with("invalid type") {
        "type_error"
    } else {
        "value_error"
    };
    entry(loc, msg, kind)
}

/// `POST /logs` items: what the types alone do not enforce.
pub(crate) fn check_log(log: &LogRequest, prefix: &[Value], errors: &mut Vec<ValidationError>) {
    if log.config_id.is_none() && log.config.is_none() {
        errors.push(entry(
            body_loc(prefix, "config"),
            "one of config_id or config is required",
            "value_error.missing",
        ));
    }
    exclusive(
        prefix,
        ("session_id", log.session_id.is_some()),
        ("session_reference_id", log.session_reference_id.is_some()),
        errors,
    );
    exclusive(
        prefix,
        ("parent_id", log.parent_id.is_some()),
        ("parent_reference_id", log.parent_reference_id.is_some()),
        errors,
    );
    for (field, v) in [
        ("reference_id", &log.reference_id),
        ("session_reference_id", &log.session_reference_id),
        ("parent_reference_id", &log.parent_reference_id),
        ("project", &log.project),
    ] {
        if v.as_deref() == Some("") {
            errors.push(entry(
                body_loc(prefix, field),
                "must not be empty",
                "value_error",
            ));
        }
    }
    if let Some(at) = &log.created_at {
        if utc_timestamp(at).is_none() {
            errors.push(entry(
                body_loc(prefix, "created_at"),
                format!("invalid RFC 3339 timestamp '{at}'"),
                "value_error.datetime",
            ));
        }
    }
    if let Some(d) = log.duration {
        if !d.is_finite() || d < 0.0 {
            errors.push(entry(
                body_loc(prefix, "duration"),
                "duration must be a non-negative number of seconds",
                "value_error",
            ));
        }
    }
}

/// `POST /completion-model-config`: what the types alone do not enforce.
pub(crate) fn check_completion(
    req: &CompletionModelConfigRequest,
    max_samples: u32,
) -> Result<(), ApiError> {
    let prefix = [body()];
    let mut errors = Vec::new();
    if req.model_config_id.is_empty() {
        errors.push(entry(
            body_loc(&prefix, "model_config_id"),
            "must not be empty",
            "value_error",
        ));
    }
    exclusive(
        &prefix,
        ("session_id", req.session_id.is_some()),
        ("session_reference_id", req.session_reference_id.is_some()),
        &mut errors,
    );
    exclusive(
        &prefix,
        ("parent_id", req.parent_id.is_some()),
        ("parent_reference_id", req.parent_reference_id.is_some()),
        &mut errors,
    );
    if let Some(n) = req.num_samples {
        if n == 0 || n > max_samples {
            errors.push(entry(
                body_loc(&prefix, "num_samples"),
                format!("num_samples must be between 1 and {max_samples}"),
                "value_error.number",
            ));
        }
    }
    if let Some(TemplateLanguage::Other(lang)) = &req.template_language {
        errors.push(entry(
            body_loc(&prefix, "template_language"),
            format!(
                "unsupported template_language '{lang}' (this server renders default and jinja)"
            ),
            "value_error.const",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn exclusive(
    prefix: &[Value],
    a: (&str, bool),
    b: (&str, bool),
    errors: &mut Vec<ValidationError>,
) {
    if a.1 && b.1 {
        errors.push(entry(
            body_loc(prefix, b.0),
            format!("give at most one of {} and {}", a.0, b.0),
            "value_error",
        ));
    }
}

/// Remove anything that may hold a secret, recursively: `provider_api_keys`, `api_key`,
/// `authorization`, `x-api-key` (any case). Applied to everything before it is stored.
pub(crate) fn scrub(value: &mut Value) {
    crate::redact::remove_secret_keys(value, &crate::redact::STORED_SECRET_KEYS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_field_is_located_and_named() {
        let err = parse::<CompletionModelConfigRequest>(br#"{"stream": true}"#).unwrap_err();
        let ApiError::Validation(list) = err else {
            panic!("not a validation error")
        };
        assert_eq!(list[0].loc, vec![json!("body"), json!("model_config_id")]);
        assert_eq!(list[0].msg, "field required");
        assert_eq!(list[0].kind, "value_error.missing");
    }

    #[test]
    fn wrong_type_is_located() {
        let err = parse::<CompletionModelConfigRequest>(
            br#"{"model_config_id": "c", "num_samples": "two"}"#,
        )
        .unwrap_err();
        let ApiError::Validation(list) = err else {
            panic!("not a validation error")
        };
        assert_eq!(list[0].loc, vec![json!("body"), json!("num_samples")]);
        assert_eq!(list[0].kind, "type_error");
    }

    #[test]
    fn scrub_removes_keys_everywhere() {
        let mut v = json!({"a": {"provider_api_keys": {"openai": "sk"}, "Authorization": "x", "keep": [{"api_key": 1, "b": 2}]}});
        scrub(&mut v);
        assert_eq!(v, json!({"a": {"keep": [{"b": 2}]}}));
    }
}

/// An RFC 3339 timestamp with any offset (`Z`, `+02:00`, `-0530`) or none (naive, taken as
/// UTC), as the UTC text the store keeps (`2024-05-01T10:00:00.000000Z`), so stored times
/// compare as text. `None` when it is not a timestamp.
pub(crate) fn utc_timestamp(at: &str) -> Option<String> {
    let at = at.trim();
    // The offset starts after the time part (`T12:34:56…`), never inside the date.
    let tail_from = at.find(['T', 't', ' ']).map_or(at.len(), |i| i + 1);
    let (local, offset_secs) = match at[tail_from..].find(['+', '-']) {
        Some(i) => {
            let (local, off) = at.split_at(tail_from + i);
            let sign: i64 = if off.starts_with('-') { -1 } else { 1 };
            let digits: String = off[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            (local, sign * (h * 3600 + m * 60))
        }
        None => (at.trim_end_matches(['Z', 'z']), 0),
    };
    let local = humantime::parse_rfc3339_weak(local).ok()?;
    let utc = if offset_secs >= 0 {
        local.checked_sub(std::time::Duration::from_secs(offset_secs as u64))?
    } else {
        local.checked_add(std::time::Duration::from_secs(offset_secs.unsigned_abs()))?
    };
    Some(humantime::format_rfc3339_micros(utc).to_string())
}

#[cfg(test)]
mod timestamp_tests {
    use super::utc_timestamp;

    #[test]
    fn offsets_and_naive_times_become_utc() {
        let utc = "2024-05-01T10:00:00.000000Z";
        for given in [
            "2024-05-01T10:00:00Z",
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T05:30:00-04:30",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00.000+00:00",
        ] {
            assert_eq!(utc_timestamp(given).as_deref(), Some(utc), "{given}");
        }
        for bad in ["yesterday", "2024-05-01T10:00:00+2", "2024-13-01T10:00:00Z"] {
            assert_eq!(utc_timestamp(bad), None, "{bad}");
        }
    }
}
