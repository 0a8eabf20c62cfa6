//! Model configs as `.prompt` text (`POST /model-configs/serialize`, `/deserialize`,
//! `/model-configs/{id}/export`).
//!
//! The text is a front matter of `key: value` lines between `---` lines, each value written
//! as JSON (which YAML reads too), then the template: a completion's `prompt_template` as
//! it is, or a chat template as `<role>` … `</role>` blocks:
//!
//! ```text
//! ---
//! model: "gpt-4o-mini"
//! temperature: 0.7
//! ---
//! <system>
//! You are terse.
//! </system>
//! <user>
//! {{question}}
//! </user>
//! ```

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::completion::model_config_body;
use super::error::ApiError;
use super::render::content_text;
use super::store::configs::{config_body, config_response};
use super::store::new_id;
use super::validate::{body, JsonBody};
use super::ServerState;
use crate::api::{ChatMessage, JsonMap, ModelConfig, Role};

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// `config` (a stored or checked body) as `.prompt` text.
pub(crate) fn to_prompt_file(config: &Value) -> String {
    let mut out = String::from("---\n");
    if let Value::Object(map) = config {
        for (k, v) in map {
            if matches!(
                k.as_str(),
                "prompt_template" | "chat_template" | "project" | "project_id"
            ) || v.is_null()
            {
                continue;
            }
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    out.push_str("---\n");
    if let Some(messages) = config.get("chat_template").and_then(Value::as_array) {
        for m in messages {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            let content = match m.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => serde_json::from_value::<crate::api::MessageContent>(other.clone())
                    .map(|c| content_text(Some(&c)))
                    .unwrap_or_default(),
                None => String::new(),
            };
            out.push_str(&format!("<{role}>\n{content}\n</{role}>\n"));
        }
    } else if let Some(t) = config.get("prompt_template").and_then(Value::as_str) {
        out.push_str(t);
    }
    out
}

/// `.prompt` text back into a config body; `Err` names what is wrong.
pub(crate) fn from_prompt_file(text: &str) -> Result<Value, String> {
    let text = text.replace("\r\n", "\n");
    let rest = text
        .strip_prefix("---\n")
        .ok_or("a .prompt file starts with a '---' line")?;
    let end = rest
        .find("\n---\n")
        .map(|i| (i, i + 5))
        .or_else(|| rest.strip_suffix("\n---").map(|r| (r.len(), rest.len())))
        .or_else(|| rest.starts_with("---\n").then_some((0, 4)))
        .ok_or("the front matter is not closed by a '---' line")?;
    let (front, body_text) = (&rest[..end.0], &rest[end.1..]);
    let mut map = JsonMap::new();
    for line in front.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("front matter line '{line}' is not 'key: value'"))?;
        let v = v.trim();
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        map.insert(k.trim().to_owned(), value);
    }
    if let Some(messages) = chat_blocks(body_text)? {
        map.insert("chat_template".to_owned(), json!(messages));
    } else if !body_text.is_empty() {
        map.insert("prompt_template".to_owned(), json!(body_text));
    }
    Ok(Value::Object(map))
}

/// The `<role>` blocks of a chat template; `None` when the text has none (a completion).
fn chat_blocks(text: &str) -> Result<Option<Vec<ChatMessage>>, String> {
    let opens = |line: &str| {
        ROLES
            .iter()
            .find(|r| line.trim_end() == format!("<{r}>"))
            .copied()
    };
    if !text.lines().any(|l| opens(l).is_some()) {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let role = opens(line).ok_or_else(|| format!("expected a <role> line, found '{line}'"))?;
        let close = format!("</{role}>");
        let mut content = Vec::new();
        loop {
            match lines.next() {
                Some(l) if l.trim_end() == close => break,
                Some(l) => content.push(l),
                None => return Err(format!("<{role}> is not closed by {close}")),
            }
        }
        let role = match role {
            "system" => Role::System,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            _ => Role::User,
        };
        out.push(ChatMessage::new(role, content.join("\n")));
    }
    Ok(Some(out))
}

/// `POST /model-configs/serialize`: a model config (chat or completion) as `.prompt` text.
pub(crate) async fn serialize(JsonBody(config): JsonBody<Value>) -> Result<Json<String>, ApiError> {
    let config = model_config_body(config, &[body()])?;
    Ok(Json(to_prompt_file(&config)))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Deserialize {
    config: String,
}

/// `POST /model-configs/deserialize`: `.prompt` text as a `ModelConfigResponse` (checked,
/// not stored: its `id` is new each time; register it with `POST /model-configs`).
pub(crate) async fn deserialize(
    JsonBody(d): JsonBody<Deserialize>,
) -> Result<Json<Value>, ApiError> {
    let config = from_prompt_file(&d.config)
        .map_err(|msg| ApiError::invalid(vec![body(), json!("config")], msg, "value_error"))?;
    let checked: ModelConfig = serde_json::from_value(config).map_err(|e| {
        ApiError::invalid(vec![body(), json!("config")], e.to_string(), "value_error")
    })?;
    let Ok(Value::Object(map)) = serde_json::to_value(&checked) else {
        return Err(ApiError::internal("cannot encode the config"));
    };
    Ok(Json(config_response(&new_id("config"), map)))
}

/// `POST /model-configs/{id}/export`: a stored config as `.prompt` text.
pub(crate) async fn export(
    State(state): State<ServerState>,
    Path(id): Path<String>,
) -> Result<Json<String>, ApiError> {
    let config = state.inner.store.run(move |c| config_body(c, &id)).await?;
    Ok(Json(to_prompt_file(&config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_and_completion_configs_round_trip() {
        let chat = json!({
            "model": "gpt-4o-mini", "temperature": 0.5, "endpoint": "chat",
            "chat_template": [
                {"role": "system", "content": "Be terse.\nVery."},
                {"role": "user", "content": "{{q}}"}
            ]
        });
        let text = to_prompt_file(&chat);
        assert!(text.starts_with("---\n"), "{text}");
        assert_eq!(from_prompt_file(&text).unwrap(), chat);
        let completion = json!({"model": "m", "prompt_template": "Say {{x}}\n"});
        assert_eq!(
            from_prompt_file(&to_prompt_file(&completion)).unwrap(),
            completion
        );
        assert!(from_prompt_file("model: m").is_err());
        assert!(from_prompt_file("---\nmodel: \"m\"\n---\n<user>\nunclosed").is_err());
    }
}
