//! OTLP end to end: spans of a session with nested steps and LLM calls go through
//! opentelemetry-otlp (HTTP, protobuf) to an OTLP receiver on 127.0.0.1 that decodes
//! them with opentelemetry-proto; the GenAI attributes, span names and parent links
//! arrive intact.

use crate::harness::adapters::serve_app;
use crate::harness::endpoint::{handle, Recorder};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use humanloop_tracing::{session, step, Config};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{json, Value};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

type Received = Arc<Mutex<Vec<Span>>>;

async fn otlp_receiver() -> (SocketAddr, Received) {
    let received: Received = Arc::default();
    async fn traces(State(rx): State<Received>, body: Bytes) -> &'static str {
        let req = ExportTraceServiceRequest::decode(body).expect("valid OTLP protobuf");
        let mut out = rx.lock().unwrap();
        for rs in req.resource_spans {
            for ss in rs.scope_spans {
                out.extend(ss.spans);
            }
        }
        ""
    }
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    (serve_app(app).await, received)
}

/// An OpenAI-compatible provider answering with the documented chat completion shape.
async fn provider() -> SocketAddr {
    async fn chat(Json(req): Json<Value>) -> Json<Value> {
        Json(json!({
            "id": "chatcmpl-otlp",
            "object": "chat.completion",
            "created": 1741569952,
            "model": req["model"],
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}
        }))
    }
    let app = Router::new().route("/v1/chat/completions", post(chat));
    serve_app(app).await
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attr(span, key)? {
        AnyValue::StringValue(s) => Some(s),
        _ => None,
    }
}

fn int_attr(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key)? {
        AnyValue::IntValue(i) => Some(*i),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_with_nested_calls_arrives_by_otlp() {
    let (otlp_addr, received) = otlp_receiver().await;
    let provider_addr = provider().await;
    let endpoint = Recorder::start().await;

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("http://{otlp_addr}/v1/traces"))
        .build()
        .expect("OTLP exporter");
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let tracer = tracer_provider.tracer("otlp-test");

    let hl = handle(
        Config::builder()
            .base_url(&endpoint.base_url)
            .api_key("hl-test"),
    );
    let subscriber = tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    let _guard = tracing::subscriber::set_default(subscriber);

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let url = format!("http://{provider_addr}/v1/chat/completions");
    let call = |model: &'static str| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let resp = http
                .post(&url)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap();
        }
    };

    async {
        call("gpt-4o-mini").await;
        async {
            call("gpt-4o").await;
            call("gpt-4.1-mini").instrument(step("lookup")).await;
        }
        .instrument(step("research"))
        .await;
    }
    .instrument(session("otlp-session"))
    .await;

    hl.flush_spans(); // the calls' spans are closed on the finisher's thread
    tracer_provider.force_flush().unwrap();
    hl.shutdown(Duration::from_secs(5)).await.unwrap();

    let spans = received.lock().unwrap().clone();
    let by_name = |name: &str| -> Vec<&Span> { spans.iter().filter(|s| s.name == name).collect() };

    let root = spans
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .expect("a root span for the session");
    let research = spans
        .iter()
        .find(|s| s.name.contains("research"))
        .expect("the research step span");
    let lookup = spans
        .iter()
        .find(|s| s.name.contains("lookup"))
        .expect("the lookup step span");

    let top = by_name("chat gpt-4o-mini");
    let inner = by_name("chat gpt-4o");
    let nested = by_name("chat gpt-4.1-mini");
    assert_eq!(
        (top.len(), inner.len(), nested.len()),
        (1, 1, 1),
        "{spans:#?}"
    );

    // One trace; the tree is session → {call, research → {call, lookup → call}}.
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert_eq!(top[0].parent_span_id, root.span_id);
    assert_eq!(research.parent_span_id, root.span_id);
    assert_eq!(inner[0].parent_span_id, research.span_id);
    assert_eq!(lookup.parent_span_id, research.span_id);
    assert_eq!(nested[0].parent_span_id, lookup.span_id);

    for (span, model) in [
        (top[0], "gpt-4o-mini"),
        (inner[0], "gpt-4o"),
        (nested[0], "gpt-4.1-mini"),
    ] {
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(str_attr(span, "gen_ai.operation.name"), Some("chat"));
        assert_eq!(str_attr(span, "gen_ai.provider.name"), Some("openai"));
        assert_eq!(str_attr(span, "gen_ai.request.model"), Some(model));
        assert_eq!(str_attr(span, "gen_ai.response.model"), Some(model));
        assert_eq!(str_attr(span, "gen_ai.response.id"), Some("chatcmpl-otlp"));
        assert_eq!(str_attr(span, "server.address"), Some("127.0.0.1"));
        assert_eq!(
            int_attr(span, "server.port"),
            Some(i64::from(provider_addr.port()))
        );
        assert_eq!(int_attr(span, "gen_ai.usage.input_tokens"), Some(19));
        assert_eq!(int_attr(span, "gen_ai.usage.output_tokens"), Some(10));
        assert_eq!(
            str_attr(span, "gen_ai.conversation.id"),
            Some("otlp-session"),
            "the session key is the conversation id"
        );
        // Content is opt-in on spans: off by default.
        assert!(attr(span, "gen_ai.input.messages").is_none());
        assert!(attr(span, "gen_ai.output.messages").is_none());
    }
}
