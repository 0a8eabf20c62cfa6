//! Feedback on logs (`POST /feedback`, or `feedback` given with a log), answered in the v4
//! `FeedbackResponse` shape and listed on the log it is about.

use rusqlite::{params, Connection};
use serde_json::{json, Value};

use super::{exists, new_id, now, StoreError};
use crate::server::validate::utc_timestamp;

/// Store one feedback item about `data_id`; answers it in the v4 shape.
pub(crate) fn insert(
    c: &Connection,
    data_id: &str,
    item: &Value,
    default_at: &str,
) -> rusqlite::Result<Value> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("comment");
    let value = item.get("value").cloned().unwrap_or(Value::Null);
    let user = item.get("user").and_then(Value::as_str);
    let at = item
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(utc_timestamp)
        .unwrap_or_else(|| default_at.to_owned());
    let id = new_id("feedback");
    c.prepare_cached(
        "INSERT INTO feedback (id, data_id, type, value, user, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![id, data_id, kind, value.to_string(), user, at])?;
    Ok(item_json(id, data_id, kind, value, user, &at))
}

fn item_json(
    id: String,
    data_id: &str,
    kind: &str,
    value: Value,
    user: Option<&str>,
    at: &str,
) -> Value {
    let mut v =
        json!({"id": id, "data_id": data_id, "type": kind, "value": value, "created_at": at});
    if let Some(u) = user {
        v["user"] = json!(u);
    }
    v
}

/// The feedback on one log, oldest first.
pub(crate) fn for_log(c: &Connection, data_id: &str) -> rusqlite::Result<Vec<Value>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, type, value, user, created_at FROM feedback WHERE data_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([data_id], |r| {
        let value: String = r.get(2)?;
        let user: Option<String> = r.get(3)?;
        Ok(item_json(
            r.get(0)?,
            data_id,
            &r.get::<_, String>(1)?,
            serde_json::from_str(&value).unwrap_or(Value::Null),
            user.as_deref(),
            &r.get::<_, String>(4)?,
        ))
    })?;
    rows.collect()
}

/// `POST /feedback`: one item or a list, all or nothing. Each names its log in `data_id`;
/// `unset: true` removes the log's earlier feedback of that `type` (answered with the
/// removed item, or an empty value when there was none).
pub(crate) fn submit(c: &mut Connection, items: Vec<Value>) -> Result<Vec<Value>, StoreError> {
    let tx = c.transaction()?;
    let at = now();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(data_id) = item.get("data_id").and_then(Value::as_str) else {
            return Err(StoreError::invalid(
                vec![json!("body"), json!(i), json!("data_id")],
                "data_id is required: the id of the log the feedback is about",
                "value_error.missing",
            ));
        };
        if !exists(&tx, "SELECT 1 FROM datapoints WHERE id = ?1", data_id)? {
            return Err(StoreError::not_found("log", data_id));
        }
        if item.get("unset").and_then(Value::as_bool) == Some(true) {
            let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
            let last = for_log(&tx, data_id)?
                .into_iter()
                .rev()
                .find(|f| f["type"] == kind);
            tx.execute(
                "DELETE FROM feedback WHERE data_id = ?1 AND type = ?2",
                params![data_id, kind],
            )?;
            out.push(last.unwrap_or_else(|| {
                item_json(new_id("feedback"), data_id, kind, json!(""), None, &at)
            }));
            continue;
        }
        if item.get("value").is_none_or(Value::is_null) {
            return Err(StoreError::invalid(
                vec![json!("body"), json!(i), json!("value")],
                "value is required unless unset is true",
                "value_error.missing",
            ));
        }
        out.push(insert(&tx, data_id, item, &at)?);
    }
    tx.commit()?;
    Ok(out)
}
