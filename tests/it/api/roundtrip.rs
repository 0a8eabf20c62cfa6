//! Every wire type against the JSON shapes of SPEC.md: what the endpoint sends decodes,
//! and encoding it again gives the same JSON (unknown fields included, unset fields
//! omitted). Open enums keep values this crate does not know.

use humanloop_tracing::api::{
    ChatMessage, CompletionChunk, CompletionData, CompletionModelConfigRequest, CompletionResponse,
    ContentPart, CreateLogResponse, CreateSessionResponse, ErrorBody, FinishReason, LogConfig,
    LogRequest, MessageContent, ModelEndpoint, OneOrMany, Role, Stop, TemplateLanguage,
    UpdateLogRequest, Usage, ValidationErrorBody,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// Decode `wire` as `T`, encode it again, and require the same JSON.
fn round_trip<T: Serialize + DeserializeOwned>(wire: Value) -> T {
    let decoded: T =
        serde_json::from_value(wire.clone()).unwrap_or_else(|e| panic!("{e}: {wire:#}"));
    let encoded = serde_json::to_value(&decoded).unwrap();
    assert_eq!(encoded, wire, "re-encoded JSON differs");
    decoded
}

#[test]
fn every_completion_request_field_survives_a_round_trip() {
    let wire = json!({
        "model_config_id": "config_123",
        "stream": false,
        "project": "travel",
        "project_id": "pr_1",
        "session_id": "sesh_1",
        "session_reference_id": "my-session",
        "parent_id": "data_0",
        "parent_reference_id": "ref-parent",
        "inputs": {"city": "Paris", "days": 3, "tags": ["a", "b"]},
        "source": "unit-test",
        "metadata": {"team": "search"},
        "save": false,
        "source_datapoint_id": "dp_1",
        "provider_api_keys": {"openai": "sk-1", "anthropic": "sk-2", "openai_azure_endpoint": "https://x", "mistral": "sk-3"},
        "num_samples": 2,
        "template_language": "jinja",
        "user": "user-42",
        "return_inputs": false,
        "logprobs": 5,
        "suffix": "END",
        "seed": 7,
        "future_knob": {"on": true}
    });
    let req: CompletionModelConfigRequest = round_trip(wire);
    assert_eq!(req.template_language, Some(TemplateLanguage::Jinja));
    let keys = req.provider_api_keys.as_ref().unwrap();
    assert_eq!(keys.extra["mistral"], "sk-3");
    assert!(
        !format!("{keys:?}").contains("sk-1"),
        "provider keys never in Debug"
    );
    assert_eq!(req.extra["future_knob"]["on"], true);
}

#[test]
fn completion_request_omits_unset_fields() {
    let req = CompletionModelConfigRequest::new("config_123");
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"model_config_id": "config_123"})
    );
}

#[test]
fn a_completion_response_keeps_each_sample_and_unknown_fields() {
    let wire = json!({
        "data": [
            {"id": "data_a", "index": 0, "output": "Paris", "raw_output": " Paris\n",
             "inputs": {"q": "capital"}, "model_config_id": "config_123", "finish_reason": "stop",
             "tool_results": [{"id": "t1", "name": "lookup", "signature": "lookup(q)", "result": {"hits": 2}, "ms": 4}]},
            {"id": "data_b", "index": 1, "output": "Lyon", "raw_output": "Lyon",
             "inputs": {}, "model_config_id": "config_123", "finish_reason": "length",
             "output_message": {"role": "assistant", "content": "Lyon"},
             "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}}]}
        ],
        "provider_responses": [{"id": "cmpl-1", "object": "text_completion"}],
        "project_id": "pr_1",
        "num_samples": 2,
        "logprobs": 5,
        "suffix": "END",
        "user": "user-42",
        "usage": {"prompt_tokens": 10, "generation_tokens": 4, "total_tokens": 14},
        "metadata": {"team": "search"},
        "provider_request": {"model": "gpt-4o-mini"},
        "session_id": "sesh_1",
        "trace_id": "abc"
    });
    let resp: CompletionResponse = round_trip(wire);
    assert_eq!(
        resp.data[0].tool_results.as_ref().unwrap()[0].extra["ms"],
        4
    );
    assert_eq!(
        resp.data[1].tool_calls.as_ref().unwrap()[0].function.name,
        "lookup"
    );
    assert_eq!(resp.usage.as_ref().unwrap().generation_tokens, Some(4));
    assert_eq!(resp.extra["trace_id"], "abc");
}

#[test]
fn a_completion_response_accepts_nulls_and_defaults_a_missing_index() {
    // Only the required fields, and nulls wherever the spec allows them.
    let resp: CompletionResponse = serde_json::from_value(json!({
        "data": [{"id": "data_a", "index": 0, "output": "x", "finish_reason": null, "tool_results": null}],
        "provider_responses": [],
        "project_id": null, "num_samples": null, "usage": null, "metadata": null,
        "provider_request": null, "session_id": null
    }))
    .unwrap();
    assert_eq!(resp.data[0].finish_reason, None);
    assert_eq!(resp.project_id, None);
    // A missing `index` is sample 0.
    let item: CompletionData = serde_json::from_value(json!({"output": "x"})).unwrap();
    assert_eq!(item.index, 0);
}

#[test]
fn data_item_and_usage_alone() {
    round_trip::<CompletionData>(json!({
        "id": "data_a", "index": 3, "output": "hi", "raw_output": "hi ",
        "inputs": {"a": 1}, "model_config_id": "config_1", "finish_reason": "tool_call",
        "new_thing": [1, 2]
    }));
    let usage: Usage = round_trip(json!({
        "prompt_tokens": 1, "generation_tokens": 2, "total_tokens": 3, "reasoning_tokens": 9
    }));
    assert_eq!(usage.extra["reasoning_tokens"], 9);
}

#[test]
fn a_stream_chunk_round_trips_without_a_finish_reason() {
    let chunk: CompletionChunk = round_trip(json!({
        "data": [{"id": "data_a", "index": 1, "output": "Hel", "model_config_id": "config_1"}],
        "provider_responses": [],
        "num_samples": 2
    }));
    assert_eq!(chunk.data.len(), 1);
    assert_eq!(chunk.data[0].finish_reason, None);
}

#[test]
fn open_enums_keep_unknown_values() {
    let item: CompletionData = round_trip(json!({"index": 0, "finish_reason": "content_filter"}));
    assert_eq!(
        item.finish_reason,
        Some(FinishReason::Other("content_filter".into()))
    );
    for (wire, known) in [
        ("stop", FinishReason::Stop),
        ("length", FinishReason::Length),
        ("tool_call", FinishReason::ToolCall),
    ] {
        assert_eq!(FinishReason::from(wire), known);
        assert_eq!(serde_json::to_value(&known).unwrap(), json!(wire));
    }
    let req: CompletionModelConfigRequest = round_trip(json!({
        "model_config_id": "c", "template_language": "mustache"
    }));
    assert_eq!(
        req.template_language,
        Some(TemplateLanguage::Other("mustache".into()))
    );
    let msg: ChatMessage = round_trip(json!({"role": "developer", "content": "be brief"}));
    assert_eq!(msg.role, Role::Other("developer".into()));
}

#[test]
fn a_model_log_request_keeps_its_config_messages_and_unknown_fields() {
    let wire = json!({
        "project": "travel",
        "project_id": "pr_1",
        "session_id": "sesh_1",
        "session_reference_id": "trace-1",
        "parent_id": "data_0",
        "parent_reference_id": "span-1",
        "reference_id": "span-2",
        "inputs": {"city": "Paris"},
        "source": "humanloop-tracing",
        "metadata": {"gen_ai.system": "openai"},
        "save": true,
        "source_datapoint_id": "dp_1",
        "messages": [
            {"role": "system", "content": "You plan trips."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ], "name": "ana"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
        ],
        "output": "Go on Tuesday.",
        "output_message": {"role": "assistant", "content": "Go on Tuesday."},
        "config": {
            "type": "model", "model": "gpt-4o-mini", "provider": "openai", "endpoint": "chat",
            "max_tokens": 256, "temperature": 0.2, "top_p": 0.9, "stop": ["\n\n", "END"],
            "presence_penalty": 0.5, "frequency_penalty": 0.25, "seed": 42,
            "response_format": {"type": "json_object"}, "other": {"parallel_tool_calls": false},
            "prompt_template": "Plan {{city}}",
            "chat_template": [{"role": "system", "content": "You plan trips."}],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "name": "planner", "description": "trip planner", "reasoning_effort": "low"
        },
        "environment": "staging",
        "feedback": [{"type": "rating", "value": "good"}],
        "created_at": "2025-01-02T03:04:05.678Z",
        "error": "none",
        "stdout": "log line",
        "duration": 1.25,
        "prompt_tokens": 120,
        "output_tokens": 30,
        "prompt_cost": 0.000018,
        "output_cost": 0.000018,
        "provider_request": {"model": "gpt-4o-mini"},
        "provider_response": {"id": "chatcmpl-1"},
        "user": "user-42",
        "judgment": true,
        "x_custom": "kept"
    });
    // `"content": null` decodes as unset and is then omitted: compare without it.
    let mut expected = wire.clone();
    expected["messages"][2]
        .as_object_mut()
        .unwrap()
        .remove("content");
    let log: LogRequest = serde_json::from_value(wire).unwrap();
    assert_eq!(serde_json::to_value(&log).unwrap(), expected);

    let messages = log.messages.as_ref().unwrap();
    match &messages[1].content {
        Some(MessageContent::Parts(parts)) => {
            assert!(matches!(&parts[0], ContentPart::Text { text } if text.starts_with("What")));
            assert!(
                matches!(&parts[1], ContentPart::ImageUrl { image_url } if image_url.detail.as_deref() == Some("low"))
            );
        }
        other => panic!("expected parts, got {other:?}"),
    }
    assert_eq!(messages[2].tool_calls.as_ref().unwrap()[0].kind, "function");
    assert_eq!(messages[3].role, Role::Tool);
    match log.config.as_ref().unwrap() {
        LogConfig::Model(m) => {
            assert_eq!(m.endpoint, Some(ModelEndpoint::Chat));
            assert_eq!(m.stop, Some(Stop::Many(vec!["\n\n".into(), "END".into()])));
            assert_eq!(m.extra["reasoning_effort"], "low");
        }
        other => panic!("expected a model config, got {other:?}"),
    }
    assert_eq!(log.extra["x_custom"], "kept");
}

#[test]
fn tool_configs_and_a_single_stop_string_round_trip() {
    let log: LogRequest = round_trip(json!({
        "reference_id": "span-1",
        "session_reference_id": "trace-1",
        "inputs": {"destination": "Lisbon"},
        "config": {
            "type": "tool", "name": "plan_trip", "description": "an agent step",
            "parameters": {"type": "object", "properties": {"destination": {"type": "string"}}},
            "source": "rust", "source_code": "fn plan_trip() {}", "other": {"kind": "agent"}
        }
    }));
    assert!(matches!(log.config, Some(LogConfig::Tool(ref t)) if t.name == "plan_trip"));
    // A single stop string is a string.
    let log: LogRequest = round_trip(
        json!({"config": {"type": "model", "model": "m", "stop": "END", "endpoint": "rerank"}}),
    );
    match log.config.unwrap() {
        LogConfig::Model(m) => {
            assert_eq!(m.stop, Some(Stop::One("END".into())));
            assert_eq!(m.endpoint, Some(ModelEndpoint::Other("rerank".into())));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_requests_are_empty_objects() {
    assert_eq!(
        serde_json::to_value(LogRequest::default()).unwrap(),
        json!({})
    );
    assert_eq!(
        serde_json::to_value(UpdateLogRequest::default()).unwrap(),
        json!({})
    );
}

#[test]
fn an_update_request_round_trips() {
    let update: UpdateLogRequest =
        round_trip(json!({"output": "done", "error": "tool failed", "duration": 0.5}));
    assert_eq!(update.duration, Some(0.5));
}

#[test]
fn log_responses_and_batches_are_one_object_or_an_array() {
    let one: OneOrMany<CreateLogResponse> =
        round_trip(json!({"id": "data_1", "project_id": "pr_1", "session_id": "sesh_1"}));
    assert!(matches!(one, OneOrMany::One(ref r) if r.id == "data_1"));
    let many: OneOrMany<CreateLogResponse> = round_trip(json!([
        {"id": "data_1", "project_id": "pr_1"},
        {"id": "data_2", "project_id": "pr_1", "session_id": "sesh_2", "version": 3}
    ]));
    match many {
        OneOrMany::Many(v) => {
            assert_eq!(v.len(), 2);
            assert_eq!(v[1].extra["version"], 3);
        }
        other => panic!("{other:?}"),
    }
    // Requests take the same two shapes.
    let batch: OneOrMany<LogRequest> = round_trip(json!([{"output": "a"}, {"output": "b"}]));
    assert!(matches!(batch, OneOrMany::Many(ref v) if v.len() == 2));
    let session: CreateSessionResponse = round_trip(json!({"id": "sesh_abc"}));
    assert_eq!(session.id, "sesh_abc");
}

#[test]
fn validation_errors_name_their_location() {
    let body: ValidationErrorBody = round_trip(json!({
        "detail": [
            {"loc": ["body", "model_config_id"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["body", "messages", 1, "role"], "msg": "bad role", "type": "value_error", "ctx": {"x": 1}}
        ]
    }));
    assert_eq!(
        body.detail[0].to_string(),
        "body.model_config_id: field required (value_error.missing)"
    );
    assert_eq!(
        body.detail[1].to_string(),
        "body.messages.1.role: bad role (value_error)"
    );
    // Other errors: a string or an object.
    let e: ErrorBody = round_trip(json!({"detail": "Not found"}));
    assert_eq!(e.detail, json!("Not found"));
    let e: ErrorBody = round_trip(json!({"detail": {"code": 7}}));
    assert_eq!(e.detail["code"], 7);
}
