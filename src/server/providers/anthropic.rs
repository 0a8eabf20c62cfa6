//! Anthropic's Messages API: request body, answer, stream.

use serde_json::{json, Value};

use super::{finish, set, Call, Completion, ProviderError, StreamParser, MAX_STREAMED_TOOL_CALLS};
use crate::api::{ChatMessage, FinishReason, Role, ToolCall};
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

pub(super) fn completion(v: Value) -> Completion {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in v["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(ToolCall::function(
                block["id"].as_str().unwrap_or_default(),
                block["name"].as_str().unwrap_or_default(),
                block["input"].to_string(),
            )),
            _ => {}
        }
    }
    Completion {
        raw_output: text,
        finish_reason: v["stop_reason"].as_str().map(finish),
        tool_calls: (!calls.is_empty()).then_some(calls),
        prompt_tokens: v["usage"]["input_tokens"].as_i64(),
        output_tokens: v["usage"]["output_tokens"].as_i64(),
        raw: v,
    }
}

#[derive(Default)]
pub(super) struct Stream {
    /// `tool_use` blocks by content block index.
    tool_calls: Vec<(u64, ToolCall)>,
    finish_reason: Option<FinishReason>,
    prompt_tokens: Option<i64>,
    output_tokens: Option<i64>,
    message: Value,
    done: bool,
}

impl StreamParser for Stream {
    fn feed(&mut self, data: &str) -> Result<Option<String>, ProviderError> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Ok(None);
        };
        match v["type"].as_str() {
            Some("message_start") => {
                self.prompt_tokens = v["message"]["usage"]["input_tokens"].as_i64();
                self.message = v["message"].clone();
            }
            Some("content_block_start")
                if v["content_block"]["type"] == "tool_use"
                    && self.tool_calls.len() < MAX_STREAMED_TOOL_CALLS =>
            {
                let block = &v["content_block"];
                self.tool_calls.push((
                    v["index"].as_u64().unwrap_or(0),
                    ToolCall::function(
                        block["id"].as_str().unwrap_or_default(),
                        block["name"].as_str().unwrap_or_default(),
                        "",
                    ),
                ));
            }
            Some("content_block_delta") if v["delta"]["type"] == "text_delta" => {
                return Ok(v["delta"]["text"].as_str().map(str::to_owned));
            }
            Some("content_block_delta") if v["delta"]["type"] == "input_json_delta" => {
                let index = v["index"].as_u64().unwrap_or(0);
                if let Some((_, call)) = self.tool_calls.iter_mut().find(|(i, _)| *i == index) {
                    call.function
                        .arguments
                        .push_str(v["delta"]["partial_json"].as_str().unwrap_or_default());
                }
            }
            Some("message_delta") => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.finish_reason = Some(finish(r));
                    self.message["stop_reason"] = json!(r);
                }
                if let Some(n) = v["usage"]["output_tokens"].as_i64() {
                    self.output_tokens = Some(n);
                    self.message["usage"]["output_tokens"] = json!(n);
                }
            }
            Some("message_stop") => self.done = true,
            Some("error") => {
                return Err(ProviderError {
                    message: "the provider reported an error mid-stream".to_owned(),
                    status: None,
                    body: Some(v["error"].clone()),
                })
            }
            _ => {}
        }
        Ok(None)
    }

    fn ended(&self) -> bool {
        self.done
    }

    fn finish(&mut self, _clean_end: bool) -> Result<Completion, ProviderError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(ProviderError::new("the provider stream ended early"));
        }
        let calls: Vec<ToolCall> = std::mem::take(&mut self.tool_calls)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        Ok(Completion {
            raw_output: String::new(),
            finish_reason: self.finish_reason.take().or(Some(FinishReason::Stop)),
            tool_calls: (!calls.is_empty()).then_some(calls),
            prompt_tokens: self.prompt_tokens,
            output_tokens: self.output_tokens,
            raw: std::mem::take(&mut self.message),
        })
    }
}
