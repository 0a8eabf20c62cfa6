//! OpenAI's Chat Completions (and legacy Completions) API: the request body.

use serde_json::{json, Value};

use super::{set, Call};
use crate::api::{ModelConfig, ModelEndpoint};

/// Whether `config` goes to Chat Completions (else legacy Completions).
pub(super) fn chat(config: &ModelConfig) -> bool {
    !(config.endpoint == Some(ModelEndpoint::Complete) && config.chat_template.is_none())
}

pub(super) fn request_body(call: &Call, stream: bool) -> Value {
    let c = &call.config;
    let chat = chat(c);
    let mut b = json!({ "model": c.model });
    if chat {
        b["messages"] = json!(call.rendered.chat());
    } else {
        b["prompt"] = json!(call.rendered.prompt.clone().unwrap_or_default());
    }
    set(&mut b, "max_tokens", c.max_tokens.map(Value::from));
    set(&mut b, "temperature", c.temperature.map(Value::from));
    set(&mut b, "top_p", c.top_p.map(Value::from));
    set(&mut b, "stop", c.stop.as_ref().map(|s| json!(s)));
    set(
        &mut b,
        "presence_penalty",
        c.presence_penalty.map(Value::from),
    );
    set(
        &mut b,
        "frequency_penalty",
        c.frequency_penalty.map(Value::from),
    );
    set(&mut b, "seed", c.seed.or(call.seed).map(Value::from));
    set(&mut b, "response_format", c.response_format.clone());
    set(&mut b, "user", call.user.clone().map(Value::from));
    if chat {
        if let Some(tools) = &c.tools {
            b["tools"] = Value::Array(tools.iter().filter_map(openai_tool).collect());
        }
        set(&mut b, "tool_choice", call.tool_choice.clone());
        if let Some(n) = call.logprobs {
            b["logprobs"] = json!(true);
            b["top_logprobs"] = json!(n);
        }
    } else {
        set(&mut b, "logprobs", call.logprobs.map(Value::from));
        set(&mut b, "suffix", call.suffix.clone().map(Value::from));
    }
    if stream {
        b["stream"] = json!(true);
        b["stream_options"] = json!({ "include_usage": true });
    }
    b
}

/// A tool for OpenAI's Chat Completions: `{type: "function", function: {name,
/// description, parameters, strict}}`. Tools registered in that shape pass unchanged;
/// Humanloop's shape (`{name, description, parameters}`) is wrapped; a tool without a name
/// (a bare link to a stored tool) is left out, as there is nothing to send.
fn openai_tool(tool: &Value) -> Option<Value> {
    if tool.get("function").is_some() {
        return Some(tool.clone());
    }
    let name = tool.get("name").filter(|n| n.is_string())?;
    let mut f = json!({ "name": name });
    for key in ["description", "parameters", "strict"] {
        if let Some(v) = tool.get(key).filter(|v| !v.is_null()) {
            f[key] = v.clone();
        }
    }
    Some(json!({ "type": "function", "function": f }))
}
