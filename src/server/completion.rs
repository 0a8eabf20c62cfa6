//! The completion and chat routes: resolve the model config (saved, inline or deployed),
//! render, call the provider, log each sample, answer (JSON or SSE).

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::providers::{request_body, Call, Completion, Event, EventStream, Provider};
use super::render::render;
use super::store::{insert_datapoint, new_id, now, place, storable, Placement, Route, ThisRequest};
use super::validate::{check_completion, from_value, JsonBody};
use super::ServerState;
use crate::api::{
    ChatMessage, CompletionData, CompletionModelConfigRequest, CompletionResponse, JsonMap,
    ModelConfig, TemplateLanguage, Usage,
};

/// Everything a sample needs once the provider answered.
struct Job {
    /// A chat route: answers and logs carry `output_message`.
    chat: bool,
    state: ServerState,
    req: CompletionModelConfigRequest,
    call: Call,
    provider_request: Value,
    placement: Placement,
    ids: Vec<String>,
    started: Instant,
}

/// `POST /completion-model-config`: a saved config named by `model_config_id`.
pub(crate) async fn completion(
    State(state): State<ServerState>,
    JsonBody(req): JsonBody<CompletionModelConfigRequest>,
) -> Result<Response, ApiError> {
    run(state, req, Chat::default()).await
}

/// Where a completion or chat route takes its model config from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ConfigFrom {
    /// `model_config` in the body, registered in the request's project (the same config
    /// registered twice is one config).
    Inline,
    /// The config deployed to `environment` of the request's project (its active config
    /// when no environment is named).
    Deployed,
    /// `model_config_id`.
    Saved,
}

/// The chat part of a request: the caller's messages (after the config's chat template)
/// and its tool choice.
#[derive(Debug, Default)]
pub(crate) struct Chat {
    chat: bool,
    messages: Vec<ChatMessage>,
    tool_choice: Option<Value>,
}

/// `POST /completion`, `/completion-deployed`, `/chat`, `/chat-model-config`,
/// `/chat-deployed`: resolve the config, then as `/completion-model-config`.
pub(crate) async fn v4_completion(
    state: ServerState,
    body: Value,
    from: ConfigFrom,
    chat: bool,
) -> Result<Response, ApiError> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::invalid(
            vec![json!("body")],
            "expected a JSON object",
            "type_error.dict",
        ));
    };
    let mut extras = Chat {
        chat,
        ..Chat::default()
    };
    if chat {
        let messages = map.remove("messages").ok_or_else(|| {
            ApiError::invalid(
                vec![json!("body"), json!("messages")],
                "field required",
                "value_error.missing",
            )
        })?;
        extras.messages = from_value(messages, &[json!("body"), json!("messages")])
            .map_err(|e| ApiError::Validation(vec![e]))?;
        extras.tool_choice = [map.remove("tool_choice"), map.remove("tool_call")]
            .into_iter()
            .flatten()
            .find(|v| !v.is_null());
    }
    let text = |map: &JsonMap, key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let (project, project_id) = (text(&map, "project"), text(&map, "project_id"));
    let config_id = match from {
        ConfigFrom::Saved => None,
        ConfigFrom::Inline => {
            let Some(config) = map.remove("model_config") else {
                return Err(ApiError::invalid(
                    vec![json!("body"), json!("model_config")],
                    "field required",
                    "value_error.missing",
                ));
            };
            let config = model_config_body(config, &[json!("body"), json!("model_config")])?;
            let id = state
                .inner
                .store
                .run(move |c| {
                    let tx = c.transaction()?;
                    let id = super::store::configs::register(
                        &tx,
                        project.as_deref(),
                        project_id.as_deref(),
                        config,
                    )?;
                    tx.commit()?;
                    Ok(id)
                })
                .await?;
            Some(id)
        }
        ConfigFrom::Deployed => {
            let environment = text(&map, "environment");
            map.remove("environment");
            let id = state
                .inner
                .store
                .run(move |c| {
                    super::store::configs::deployed_config_id(
                        c,
                        project.as_deref(),
                        project_id.as_deref(),
                        environment.as_deref(),
                    )
                })
                .await?;
            Some(id)
        }
    };
    if let Some(id) = config_id {
        map.insert("model_config_id".to_owned(), Value::String(id));
    }
    let req: CompletionModelConfigRequest = from_value(Value::Object(map), &[json!("body")])
        .map_err(|e| ApiError::Validation(vec![e]))?;
    run(state, req, extras).await
}

/// A model config as given in a request (`type: "model"` optional), checked against
/// [`ModelConfig`] and encoded for storage.
pub(crate) fn model_config_body(config: Value, at: &[Value]) -> Result<Value, ApiError> {
    let Value::Object(mut map) = config else {
        return Err(ApiError::invalid(
            at.to_vec(),
            "expected a model config object",
            "type_error.dict",
        ));
    };
    if let Some(t) = map.get("type").filter(|t| !t.is_null()) {
        if t != "model" {
            let mut loc = at.to_vec();
            loc.push(json!("type"));
            return Err(ApiError::invalid(
                loc,
                "only model configs can be used here (type \"model\")",
                "value_error.const",
            ));
        }
    }
    map.remove("type");
    map.remove("id");
    let config: ModelConfig =
        from_value(Value::Object(map), at).map_err(|e| ApiError::Validation(vec![e]))?;
    serde_json::to_value(&config)
        .map_err(|e| ApiError::internal(format!("cannot encode the config: {e}")))
}

async fn run(
    state: ServerState,
    mut req: CompletionModelConfigRequest,
    chat: Chat,
) -> Result<Response, ApiError> {
    let s = &state.inner;
    check_completion(&req, s.max_samples)?;
    // Keys are used for this call only: taken out of the request before anything is kept.
    let keys = req.provider_api_keys.take();
    req.extra.remove("provider_api_keys");
    let n = req.num_samples.unwrap_or(1);

    let config_id = req.model_config_id.clone();
    let stored = s
        .store
        .run(move |c| super::store::configs::config_body(c, &config_id))
        .await?;
    let mut config: ModelConfig = from_value(stored.clone(), &[json!("model_config")])
        .map_err(|e| ApiError::internal(format!("stored model config is unreadable: {e}")))?;
    let language = req
        .template_language
        .clone()
        .or_else(|| {
            stored
                .get("template_language")
                .and_then(Value::as_str)
                .map(TemplateLanguage::from)
        })
        .unwrap_or(TemplateLanguage::Default);
    let inputs = req.inputs.clone().unwrap_or_default();
    if chat.chat && config.chat_template.is_none() && config.prompt_template.is_none() {
        // A chat with only the caller's messages.
        config.chat_template = Some(Vec::new());
    }
    let mut rendered = render(&config, &inputs, &language)?;
    if chat.chat {
        rendered
            .messages
            .get_or_insert_with(Vec::new)
            .extend(chat.messages.iter().cloned());
    }
    let provider = s.providers.select(&config, keys.as_ref())?;
    let call = Call {
        config,
        rendered,
        user: req.user.clone(),
        logprobs: req.logprobs,
        suffix: req.suffix.clone(),
        seed: req.seed,
        tool_choice: chat.tool_choice.clone(),
    };
    let stream = req.stream.unwrap_or(false);
    let provider_request = request_body(&provider, &call, stream);

    let placement = {
        let route = (
            req.project.clone(),
            req.project_id.clone(),
            req.session_id.clone(),
            req.session_reference_id.clone(),
            req.parent_id.clone(),
            req.parent_reference_id.clone(),
        );
        s.store
            .run(move |c| {
                let tx = c.transaction()?;
                let mut errors = Vec::new();
                let route = Route {
                    project: route.0.as_deref(),
                    project_id: route.1.as_deref(),
                    session_id: route.2.as_deref(),
                    session_reference_id: route.3.as_deref(),
                    parent_id: route.4.as_deref(),
                    parent_reference_id: route.5.as_deref(),
                };
                let p = place(
                    &tx,
                    route,
                    &[json!("body")],
                    false,
                    &mut ThisRequest::default(),
                    &mut errors,
                )?;
                match p {
                    Some(p) if errors.is_empty() => {
                        tx.commit()?;
                        Ok(p)
                    }
                    _ => Err(super::store::StoreError::Validation(errors)),
                }
            })
            .await?
    };

    let job = Arc::new(Job {
        chat: chat.chat,
        state: state.clone(),
        ids: (0..n).map(|_| new_id("data")).collect(),
        req,
        call,
        provider_request,
        placement,
        started: Instant::now(),
    });
    if stream {
        stream_answer(job, provider, n).await
    } else {
        json_answer(job, provider, n).await
    }
}

async fn json_answer(job: Arc<Job>, provider: Provider, n: u32) -> Result<Response, ApiError> {
    let providers = &job.state.inner.providers;
    let results = futures_util::future::try_join_all(
        (0..n).map(|i| providers.complete(&provider, &job.call, &job.provider_request, i)),
    )
    .await?;
    let rows: Vec<(String, Value)> = results
        .iter()
        .enumerate()
        .map(|(i, r)| (job.ids[i].clone(), log_body(&job, i, r)))
        .collect();
    let placement = job.placement.clone();
    job.state
        .inner
        .store
        .run(move |c| {
            let tx = c.transaction()?;
            let at = now();
            for (id, body) in rows {
                insert_datapoint(&tx, &id, &placement, None, &body, &at)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;

    let mut usage = Usage::default();
    for r in &results {
        add_usage(&mut usage, r);
    }
    let data = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut item = data_item(&job, i);
            item.output = Some(r.raw_output.trim().to_owned());
            item.raw_output = Some(r.raw_output.clone());
            item.finish_reason = r.finish_reason.clone();
            item.tool_calls = r.tool_calls.clone();
            item.inputs = Some(returned_inputs(&job));
            item.output_message = output_message(&job, r);
            item
        })
        .collect();
    let mut resp = response_base(&job, n);
    resp.data = data;
    resp.provider_responses = results.into_iter().map(|r| r.raw).collect();
    resp.usage = Some(usage);
    Ok(Json(resp).into_response())
}

async fn stream_answer(job: Arc<Job>, provider: Provider, n: u32) -> Result<Response, ApiError> {
    let providers = &job.state.inner.providers;
    // Open every sample first: a refusal is an ordinary error answer, before the stream.
    let streams = futures_util::future::try_join_all(
        (0..n).map(|i| providers.stream(&provider, &job.call, &job.provider_request, i)),
    )
    .await?;
    // A task drives the samples so a log is committed even while the client reads slowly;
    // the bounded channel gives back-pressure.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<SseEvent, std::io::Error>>(16);
    tokio::spawn(drive(job, streams, tx));
    Ok(Sse::new(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))).into_response())
}

/// Relay the samples' deltas as they come; log each sample when it finishes, then send its
/// last chunk (so a finished sample is committed). A send failure means the client left.
async fn drive(
    job: Arc<Job>,
    streams: Vec<EventStream>,
    tx: tokio::sync::mpsc::Sender<Result<SseEvent, std::io::Error>>,
) {
    let mut merged = RoundRobin::new(streams);
    let mut texts = vec![String::new(); merged.len()];
    while let Some((i, event)) = poll_fn(|cx| merged.poll_next_item(cx)).await {
        let bytes = match event {
            Ok(Event::Delta(text)) => {
                texts[i].push_str(&text);
                let mut item = data_item(&job, i);
                item.output = Some(text.clone());
                item.raw_output = Some(text);
                sse(&chunk(&job, item, None))
            }
            Ok(Event::Done(mut done)) => {
                done.raw_output = std::mem::take(&mut texts[i]);
                let body = log_body(&job, i, &done);
                let (id, placement) = (job.ids[i].clone(), job.placement.clone());
                let saved = job
                    .state
                    .inner
                    .store
                    .run(move |c| Ok(insert_datapoint(c, &id, &placement, None, &body, &now())?))
                    .await;
                if saved.is_err() {
                    let _ = tx
                        .send(Err(std::io::Error::other("the log could not be stored")))
                        .await;
                    return;
                }
                let mut item = data_item(&job, i);
                item.output = Some(String::new());
                item.raw_output = Some(String::new());
                item.finish_reason = done.finish_reason.clone();
                item.tool_calls = done.tool_calls.clone();
                item.inputs = Some(returned_inputs(&job));
                item.output_message = output_message(&job, &done);
                sse(&chunk(&job, item, Some(&done)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "humanloop-tracing server: provider stream failed");
                // Closing without the sample's last chunk tells the client it failed.
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                return;
            }
        };
        if tx.send(Ok(bytes)).await.is_err() {
            return;
        }
    }
}

/// A data-only event (no `event:` or `id:` field).
fn sse(v: &Value) -> SseEvent {
    SseEvent::default().data(v.to_string())
}

/// One stream event: a response-shaped object with exactly one data item.
fn chunk(job: &Job, item: CompletionData, done: Option<&Completion>) -> Value {
    let mut resp = response_base(job, job.ids.len() as u32);
    resp.data = vec![item];
    if let Some(done) = done {
        let mut usage = Usage::default();
        add_usage(&mut usage, done);
        resp.usage = Some(usage);
        resp.provider_responses = vec![done.raw.clone()];
    } else {
        resp.metadata = None;
        resp.provider_request = None;
    }
    let mut v = serde_json::to_value(resp).unwrap_or_else(|_| json!({}));
    // SPEC: finish_reason is null (present) until the sample's last chunk.
    if let Some(item) = v["data"][0].as_object_mut() {
        item.entry("finish_reason").or_insert(Value::Null);
    }
    v
}

/// The assistant message of a chat answer (`None` for a completion route).
fn output_message(job: &Job, r: &Completion) -> Option<ChatMessage> {
    job.chat.then(|| {
        let mut m = ChatMessage::assistant(r.raw_output.trim());
        m.tool_calls = r.tool_calls.clone();
        m
    })
}

fn data_item(job: &Job, i: usize) -> CompletionData {
    CompletionData {
        id: Some(job.ids[i].clone()),
        index: i as u32,
        model_config_id: Some(job.req.model_config_id.clone()),
        ..CompletionData::default()
    }
}

fn returned_inputs(job: &Job) -> JsonMap {
    if job.req.return_inputs == Some(false) {
        JsonMap::new()
    } else {
        job.req.inputs.clone().unwrap_or_default()
    }
}

fn response_base(job: &Job, n: u32) -> CompletionResponse {
    let named_project = job.req.project.is_some() || job.req.project_id.is_some();
    CompletionResponse {
        project_id: job.placement.project_id.clone().filter(|_| named_project),
        num_samples: Some(n),
        logprobs: job.req.logprobs.map(Value::from),
        suffix: job.req.suffix.clone(),
        user: job.req.user.clone(),
        metadata: job.req.metadata.clone(),
        provider_request: job.provider_request.as_object().cloned(),
        session_id: job.placement.session_id.clone(),
        ..CompletionResponse::default()
    }
}

fn add_usage(usage: &mut Usage, r: &Completion) {
    let p = r.prompt_tokens.unwrap_or(0);
    let g = r.output_tokens.unwrap_or(0);
    usage.prompt_tokens = Some(usage.prompt_tokens.unwrap_or(0) + p);
    usage.generation_tokens = Some(usage.generation_tokens.unwrap_or(0) + g);
    usage.total_tokens = Some(usage.total_tokens.unwrap_or(0) + p + g);
}

/// The stored log of sample `i` (payloads dropped when `save` is false).
fn log_body(job: &Job, i: usize, r: &Completion) -> Value {
    let req = &job.req;
    let mut body = json!({
        "config_id": req.model_config_id,
        "project": req.project,
        "session_reference_id": req.session_reference_id,
        "parent_reference_id": req.parent_reference_id,
        "inputs": req.inputs,
        "source": req.source,
        "metadata": req.metadata,
        "save": req.save.unwrap_or(true),
        "source_datapoint_id": req.source_datapoint_id,
        "messages": job.call.rendered.messages.as_ref().map(|_| job.call.rendered.chat()),
        "prompt": job.call.rendered.prompt,
        "output": r.raw_output.trim(),
        "raw_output": r.raw_output,
        "finish_reason": r.finish_reason,
        "tool_calls": r.tool_calls,
        "prompt_tokens": r.prompt_tokens,
        "output_tokens": r.output_tokens,
        "provider_request": job.provider_request,
        "provider_response": r.raw,
        "user": req.user,
        "sample_index": i,
        "duration": job.started.elapsed().as_secs_f64(),
    });
    if let Some(message) = output_message(job, r) {
        body["output_message"] = json!(message);
    }
    if let Value::Object(m) = &mut body {
        m.retain(|_, v| !v.is_null());
        if req.save == Some(false) {
            m.remove("prompt");
        }
    }
    storable(body)
}

/// Fair merge of the samples' streams: polls them in turn, so always-ready streams (the
/// mock provider) interleave one item each.
struct RoundRobin {
    streams: Vec<Option<EventStream>>,
    next: usize,
}

impl RoundRobin {
    fn new(streams: Vec<EventStream>) -> Self {
        Self {
            streams: streams.into_iter().map(Some).collect(),
            next: 0,
        }
    }

    fn len(&self) -> usize {
        self.streams.len()
    }

    fn poll_next_item(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(usize, Result<Event, super::providers::ProviderError>)>> {
        let n = self.streams.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let Some(s) = self.streams[i].as_mut() else {
                continue;
            };
            match s.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    self.next = (i + 1) % n;
                    return Poll::Ready(Some((i, item)));
                }
                Poll::Ready(None) => self.streams[i] = None,
                Poll::Pending => {}
            }
        }
        if self.streams.iter().all(Option::is_none) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}
