//! Anthropic's Messages API: the request body.

use serde_json::{json, Value};

use super::{set, Call};
use crate::api::{ChatMessage, Role};
use crate::server::render::content_text;

pub(super) fn request_body(call: &Call, stream: bool) -> Value {
    let c = &call.config;
    let messages = call.rendered.chat();
    let system: Vec<String> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| content_text(m.content.as_ref()))
        .collect();
    let turns: Vec<Value> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(anthropic_message)
        .collect();
    let mut b = json!({
        "model": c.model,
        "max_tokens": c.max_tokens.unwrap_or(1024),
        "messages": turns,
    });
    if !system.is_empty() {
        b["system"] = json!(system.join("\n"));
    }
    set(&mut b, "temperature", c.temperature.map(Value::from));
    set(&mut b, "top_p", c.top_p.map(Value::from));
    set(
        &mut b,
        "stop_sequences",
        c.stop.as_ref().map(|s| match s {
            crate::api::Stop::One(one) => json!([one]),
            crate::api::Stop::Many(many) => json!(many),
        }),
    );
    if let Some(tools) = &c.tools {
        b["tools"] = Value::Array(tools.iter().map(anthropic_tool).collect());
    }
    if let Some(choice) = call.tool_choice.as_ref().and_then(anthropic_tool_choice) {
        b["tool_choice"] = choice;
    }
    if let Some(u) = &call.user {
        b["metadata"] = json!({ "user_id": u });
    }
    if stream {
        b["stream"] = json!(true);
    }
    b
}

/// A tool for Anthropic's Messages API: `{name, description, input_schema}`, from OpenAI's
/// shape (`{type: "function", function: {…}}`) or Humanloop's (`{name, description,
/// parameters}`). Tools already in Anthropic's shape pass unchanged.
fn anthropic_tool(tool: &Value) -> Value {
    let f = match tool.get("function") {
        Some(f) => f,
        None if tool.get("input_schema").is_some() => return tool.clone(),
        None => tool,
    };
    let mut t = json!({
        "name": f["name"],
        "input_schema": f.get("parameters").filter(|p| !p.is_null()).cloned().unwrap_or_else(|| json!({"type": "object"})),
    });
    if let Some(d) = f.get("description").filter(|d| !d.is_null()) {
        t["description"] = d.clone();
    }
    t
}

/// Humanloop's `tool_choice` in Anthropic's terms (`none` has no equivalent: no choice).
fn anthropic_tool_choice(choice: &Value) -> Option<Value> {
    match choice {
        Value::String(s) if s == "auto" => Some(json!({"type": "auto"})),
        Value::String(s) if s == "required" => Some(json!({"type": "any"})),
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))?;
            Some(json!({"type": "tool", "name": name}))
        }
        _ => None,
    }
}

fn anthropic_message(m: &ChatMessage) -> Value {
    let role = if m.role == Role::Assistant {
        "assistant"
    } else {
        "user"
    };
    json!({ "role": role, "content": content_text(m.content.as_ref()) })
}
