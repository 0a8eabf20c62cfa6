//! A small OpenAI-compatible provider on loopback, so every example runs offline.
//!
//! It answers `POST /v1/chat/completions` deterministically from the last user message,
//! plain or streamed (with `stream_options.include_usage`), in the documented wire format.
#![allow(dead_code)] // each example uses part of it

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};

/// Start the provider on a free loopback port; returns its base URL (`http://127.0.0.1:P/v1`).
pub async fn start() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/v1/chat/completions", post(chat));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

fn answer_for(req: &Value) -> String {
    let last_user = req["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    let lower = last_user.to_lowercase();
    if lower.contains("plan") {
        "1. Fly to Lisbon on Friday. 2. Walk Alfama on Saturday. 3. Day trip to Sintra on Sunday."
            .to_owned()
    } else if lower.contains("weather") {
        "Sunny, 24°C, light breeze from the Atlantic.".to_owned()
    } else if lower.contains("tagline") {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 3;
        [
            "Lisbon: seven hills, one unforgettable weekend.",
            "Lisbon — where every tram ride ends in a view.",
            "Fall for Lisbon, one pastel de nata at a time.",
        ][n]
            .to_owned()
    } else if lower.contains("hotel") {
        "Memmo Alfama: rooftop pool, river views, 3 nights from €540.".to_owned()
    } else if lower.contains("summar") {
        "A three-day Lisbon trip with good weather: Alfama, Sintra and plenty of pastéis de nata."
            .to_owned()
    } else {
        format!("You said: {last_user}")
    }
}

fn tokens(s: &str) -> i64 {
    s.split_whitespace().count() as i64
}

async fn chat(Json(req): Json<Value>) -> Response {
    let model = req["model"].as_str().unwrap_or("demo-model").to_owned();
    let text = answer_for(&req);
    let prompt_tokens: i64 = req["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| tokens(m["content"].as_str().unwrap_or("")))
                .sum()
        })
        .unwrap_or(0)
        + 8;
    let completion_tokens = tokens(&text) + 2;
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    if req["stream"].as_bool() != Some(true) {
        let body = json!({
            "id": "chatcmpl-demo-1",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": usage,
        });
        return (StatusCode::OK, Json(body)).into_response();
    }
    let include_usage = req["stream_options"]["include_usage"].as_bool() == Some(true);
    let mut events: Vec<Value> = Vec::new();
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-demo-2",
            "object": "chat.completion.chunk",
            "created": 1_764_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    };
    events.push(chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    for (i, word) in text.split_inclusive(' ').enumerate() {
        let _ = i;
        events.push(chunk(json!({"content": word}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    if include_usage {
        events.push(json!({
            "id": "chatcmpl-demo-2",
            "object": "chat.completion.chunk",
            "created": 1_764_000_000,
            "model": model,
            "choices": [],
            "usage": usage,
        }));
    }
    let stream = async_stream(events);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("static response parts are valid")
}

/// The events as SSE frames, a few milliseconds apart like a real model.
fn async_stream(events: Vec<Value>) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    let frames = events
        .into_iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .chain(std::iter::once(Bytes::from_static(b"data: [DONE]\n\n")));
    futures_util::stream::unfold(frames, |mut frames| async move {
        let frame = frames.next()?;
        tokio::time::sleep(Duration::from_millis(15)).await;
        Some((Ok(frame), frames))
    })
}
