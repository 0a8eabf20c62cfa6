//! Ollama's native API (`/api/chat`, `/api/generate`, `/api/embed`) is recognised and
//! decoded: NDJSON streams line by line, usage from `prompt_eval_count`/`eval_count`,
//! provider `ollama`, through both adapters and through rig-core's native Ollama client,
//! against a server on 127.0.0.1 answering with the documented fixtures (SOURCES.md).

#[path = "it/harness/mod.rs"]
mod harness;

use harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};
use serde_json::{json, Value as Json};

async fn call(adapter: Adapter, path: &str, body: Json, fixture_name: &str) -> (Json, Otel) {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let otel = otel();
    let p = provider().await;
    let req = Req::post(p.url(path), body.to_string()).header("x-fixture", fixture_name);
    let got = send(adapter, &hl, req).await;
    assert_eq!(
        &got.body[..],
        &fixture(fixture_name)[..],
        "bytes pass through unchanged"
    );
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs.len(), 1, "{logs:#?}");
    (logs[0].clone(), otel)
}

#[tokio::test(flavor = "current_thread")]
async fn ollama_chat_stream_is_decoded_line_by_line() {
    for adapter in ADAPTERS {
        // `stream` absent: Ollama streams by default.
        let body = json!({"model": "llama3.2", "options": {"temperature": 0.3, "num_predict": 64},
            "messages": [{"role": "user", "content": "why is the sky blue?"}]});
        let (log, otel) = call(adapter, "/api/chat", body, "ollama/chat_stream.ndjson").await;
        assert_eq!(log["output"], "The sky is blue.", "{adapter:?}: {log:#}");
        assert_eq!(log["prompt_tokens"], 26);
        assert_eq!(log["output_tokens"], 282);
        assert_eq!(log["config"]["provider"], "ollama");
        assert_eq!(log["config"]["model"], "llama3.2");
        assert_eq!(log["config"]["temperature"], 0.3);
        assert_eq!(log["config"]["max_tokens"], 64);
        assert!(log.get("error").is_none());
        let span = otel.genai_span();
        let a = attrs(&span);
        assert_eq!(a["gen_ai.provider.name"], s("ollama"));
        assert_eq!(a["gen_ai.operation.name"], s("chat"));
        assert_eq!(a["gen_ai.request.stream"], opentelemetry::Value::Bool(true));
        assert_eq!(a["gen_ai.usage.input_tokens"], i(26));
        assert_eq!(a["gen_ai.usage.output_tokens"], i(282));
        assert_eq!(a["gen_ai.response.model"], s("llama3.2"));
        assert!(a.contains_key("gen_ai.response.time_to_first_chunk"));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ollama_chat_plain_and_tool_call() {
    let body = json!({"model": "llama3.2", "stream": false,
        "messages": [{"role": "user", "content": "Hello"}]});
    let (log, _otel) = call(
        Adapter::Reqwest,
        "/api/chat",
        body,
        "ollama/chat_basic.json",
    )
    .await;
    assert_eq!(log["output"], "Hello! How are you today?");
    assert_eq!(
        (log["prompt_tokens"].clone(), log["output_tokens"].clone()),
        (json!(26), json!(298))
    );

    let body = json!({"model": "llama3.2", "stream": false,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_current_weather"}}]});
    let (log, _otel) = call(
        Adapter::Tower,
        "/api/chat",
        body,
        "ollama/chat_tool_call.json",
    )
    .await;
    let calls = &log["output_message"]["tool_calls"];
    assert_eq!(
        calls[0]["function"]["name"], "get_current_weather",
        "{log:#}"
    );
    let args: Json =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"format": "celsius", "location": "Paris, FR"}));
    assert_eq!(log["output_tokens"], 33);
}

#[tokio::test(flavor = "current_thread")]
async fn ollama_generate_stream_and_embed() {
    let body = json!({"model": "llama3.2", "prompt": "Why is the sky blue?"});
    let (log, otel) = call(
        Adapter::Reqwest,
        "/api/generate",
        body,
        "ollama/generate_stream.ndjson",
    )
    .await;
    assert_eq!(log["output"], "The sky is blue");
    assert_eq!(log["output_tokens"], 259);
    assert_eq!(
        attrs(&otel.genai_span())["gen_ai.operation.name"],
        s("text_completion")
    );

    let body = json!({"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"]});
    let (log, otel) = call(
        Adapter::Tower,
        "/api/embed",
        body,
        "ollama/embed_basic.json",
    )
    .await;
    assert_eq!(log["prompt_tokens"], 8, "{log:#}");
    assert!(log.get("error").is_none());
    let a = attrs(&otel.genai_span());
    assert_eq!(a["gen_ai.operation.name"], s("embeddings"));
    assert_eq!(a["gen_ai.usage.input_tokens"], i(8));
}

#[tokio::test(flavor = "current_thread")]
async fn ollama_error_body_is_the_log_error() {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let p = provider().await;
    let req = Req::post(
        p.url("/api/chat"),
        json!({"model": "llama9", "messages": []}).to_string(),
    )
    .header("x-fixture", "ollama/error_model_not_found.json")
    .header("x-status", "404");
    send(Adapter::Reqwest, &hl, req).await;
    let logs = flushed_logs(&hl, &sink, 1).await;
    let error = logs[0]["error"].as_str().unwrap();
    assert!(
        error.contains("404") && error.contains("not found"),
        "{error}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn ollama_through_rig_native_chat() {
    use rig_core::completion::CompletionRequest;
    use rig_core::providers::ollama::OllamaConfig;

    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/api/chat",
        axum::routing::post(|| async {
            axum::response::Response::builder()
                .header("content-type", "application/x-ndjson")
                .body(axum::body::Body::from(fixture("ollama/chat_stream.ndjson")))
                .unwrap()
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let model = OllamaConfig::new()
        .with_base_url(format!("http://{addr}"))
        .connect(rig_reqwest::ReqwestMiddlewareClient::from(http))
        .native_completion("llama3.2");
    let reply = model
        .stream(CompletionRequest::from("why is the sky blue?"))
        .unwrap()
        .finish()
        .await
        .unwrap();
    assert_eq!(reply.text(), "The sky is blue.");
    let logs = flushed_logs(&hl, &sink, 1).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["config"]["provider"], "ollama");
    assert_eq!(logs[0]["output"], "The sky is blue.");
    assert_eq!(logs[0]["output_tokens"], 282);
    assert!(logs[0].get("error").is_none(), "{:#}", logs[0]);
}
