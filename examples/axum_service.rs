//! A web service whose handler calls an LLM: the session key comes from the caller's
//! `x-session-id` header, so every call made for one conversation lands in one session,
//! each request's work under a step. Offline: `cargo run --example axum_service`.
//!
//! The handler writes `.in_step(..).in_session(..)` (`HierarchyExt`): each span is made at
//! the future's first poll, so the session exists before the step. The look-alike
//! `.instrument(step(..)).instrument(session(..))` makes the step first, outside the
//! session, and its calls land in the trace's automatic session.

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use humanloop_tracing::hierarchy::HierarchyExt;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{json, Value};

#[derive(Clone)]
struct App {
    llm: ClientWithMiddleware,
    provider: String,
}

/// `POST /ask {"question": …}` with header `x-session-id`.
async fn ask(State(app): State<App>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let session_key = headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous")
        .to_owned();
    let question = body["question"].as_str().unwrap_or_default().to_owned();
    let answer = async {
        let resp: Value = app
            .llm
            .post(format!("{}/chat/completions", app.provider))
            .bearer_auth("sk-demo")
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        resp["choices"][0]["message"]["content"].as_str().map(str::to_owned)
    }
    .in_step("answer-question")
    .in_session(session_key)
    .await;
    Json(json!({"answer": answer}))
}

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Logged).await?;

    let app = App {
        llm: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(local.hl.middleware())
            .build(),
        provider: local.provider.clone(),
    };
    let router = Router::new().route("/ask", post(ask)).with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("service on http://{addr}/ask");

    // Two questions from one conversation, one from another.
    let http = reqwest::Client::new();
    for (session_id, question) in [
        ("conversation-7", "What's the weather in Lisbon?"),
        ("conversation-7", "Then plan my Saturday."),
        ("conversation-8", "Summarise my trip."),
    ] {
        let answer: Value = http
            .post(format!("http://{addr}/ask"))
            .header("x-session-id", session_id)
            .json(&json!({ "question": question }))
            .send()
            .await?
            .json()
            .await?;
        println!("[{session_id}] {question} → {}", answer["answer"]);
    }

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
