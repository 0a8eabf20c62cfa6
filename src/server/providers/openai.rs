//! OpenAI's Chat Completions (and legacy Completions) API: request body, answer, stream.

use serde_json::{json, Value};

use super::{finish, set, Call, Completion, ProviderError, StreamParser, MAX_STREAMED_TOOL_CALLS};
use crate::api::{FinishReason, ModelConfig, ModelEndpoint, ToolCall};

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

pub(super) fn completion(v: Value) -> Completion {
    let choice = &v["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .or_else(|| choice["text"].as_str())
        .unwrap_or_default()
        .to_owned();
    let tool_calls = choice["message"]["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| serde_json::from_value::<ToolCall>(c.clone()).ok())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty());
    Completion {
        raw_output: text,
        finish_reason: choice["finish_reason"].as_str().map(finish),
        tool_calls,
        prompt_tokens: v["usage"]["prompt_tokens"].as_i64(),
        output_tokens: v["usage"]["completion_tokens"].as_i64(),
        raw: v,
    }
}

#[derive(Default)]
pub(super) struct Stream {
    tool_calls: Vec<ToolCall>,
    finish_reason: Option<FinishReason>,
    prompt_tokens: Option<i64>,
    output_tokens: Option<i64>,
    last: Value,
    done: bool,
}

impl StreamParser for Stream {
    fn feed(&mut self, data: &str) -> Result<Option<String>, ProviderError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Ok(None); // not JSON: ignore, like every SSE client
        };
        if let Some(err) = v.get("error") {
            return Err(ProviderError {
                message: "the provider reported an error mid-stream".to_owned(),
                status: None,
                body: Some(err.clone()),
            });
        }
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = usage["prompt_tokens"].as_i64();
            self.output_tokens = usage["completion_tokens"].as_i64();
        }
        let choice = &v["choices"][0];
        if let Some(r) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(finish(r));
        }
        // Tool calls arrive in pieces keyed by `index`: the id and name first, then the
        // arguments' JSON text in fragments.
        for tc in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap_or(0) as usize;
            if i >= MAX_STREAMED_TOOL_CALLS {
                continue;
            }
            if self.tool_calls.len() <= i {
                self.tool_calls
                    .resize_with(i + 1, || ToolCall::function("", "", ""));
            }
            let call = &mut self.tool_calls[i];
            if let Some(id) = tc["id"].as_str() {
                call.id = id.to_owned();
            }
            if let Some(name) = tc["function"]["name"].as_str() {
                call.function.name.push_str(name);
            }
            if let Some(args) = tc["function"]["arguments"].as_str() {
                call.function.arguments.push_str(args);
            }
        }
        let text = choice["delta"]["content"]
            .as_str()
            .or_else(|| choice["text"].as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if self.last.is_null()
            || v.get("usage").is_some_and(Value::is_object)
            || self.finish_reason.is_some()
        {
            self.last = v;
        }
        Ok(text)
    }

    fn ended(&self) -> bool {
        self.done
    }

    fn finish(&mut self, clean_end: bool) -> Result<Completion, ProviderError> {
        let finish_reason = match self.finish_reason.take() {
            Some(r) => Some(r),
            // `[DONE]` without a reason: a terse server; the sample did finish.
            None if self.done || clean_end && !self.last.is_null() => Some(FinishReason::Stop),
            None => return Err(ProviderError::new("the provider stream ended early")),
        };
        let calls = std::mem::take(&mut self.tool_calls);
        Ok(Completion {
            raw_output: String::new(),
            finish_reason,
            tool_calls: (!calls.is_empty()).then_some(calls),
            prompt_tokens: self.prompt_tokens,
            output_tokens: self.output_tokens,
            raw: std::mem::take(&mut self.last),
        })
    }
}
