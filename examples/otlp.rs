//! Spans to any OpenTelemetry backend by OTLP/HTTP (protobuf): Jaeger, Tempo, Phoenix,
//! MLflow, an OpenTelemetry Collector. Set `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (e.g.
//! `http://localhost:4318/v1/traces`) or `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`http://localhost:4318`) to send them there; without either the example starts a
//! tiny OTLP receiver on loopback and prints what arrives, so it runs offline:
//! `cargo run --example otlp`. Failed exports are reported on stderr.

#[path = "support/local.rs"]
mod local;
#[path = "support/otlp.rs"]
mod otlp;

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use humanloop_tracing::{session, step, Config};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde_json::json;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A loopback OTLP/HTTP receiver that prints each span it decodes.
async fn receiver() -> Result<String, local::BoxError> {
    async fn traces(body: Bytes) -> &'static str {
        if let Ok(req) = ExportTraceServiceRequest::decode(body) {
            for span in req
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans)
            {
                let attrs: Vec<String> = span
                    .attributes
                    .iter()
                    .filter(|kv| kv.key.starts_with("gen_ai."))
                    .map(|kv| {
                        let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                        format!("{}={v:?}", kv.key)
                    })
                    .collect();
                println!("OTLP span: {:<28} {}", span.name, attrs.join(" "));
            }
        }
        ""
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/v1/traces", post(traces))).await
    });
    Ok(format!("http://{addr}"))
}

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start(Config::builder()).await?;
    let hl = &local.hl;
    // The environment's endpoint, or a receiver of our own.
    let own = match otlp::configured_endpoint() {
        Some(_) => None,
        None => Some(format!("{}/v1/traces", receiver().await?)),
    };
    let otlp = otlp::Otlp::build(
        opentelemetry_sdk::trace::SdkTracerProvider::builder(),
        "otlp-example",
        own,
    )?;
    let provider = otlp.provider.clone();
    tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(humanloop_tracing::otel::layer(
            provider.tracer("otlp-example"),
        ))
        .init();

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(hl.middleware())
        .build();
    let url = format!("{}/chat/completions", local.provider);
    async {
        for question in ["Plan a day in Porto.", "What's the weather in Porto?"] {
            async {
                let resp = http
                    .post(&url)
                    .bearer_auth("sk-demo")
                    .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}))
                    .send()
                    .await?;
                resp.bytes().await?;
                Ok::<_, local::BoxError>(())
            }
            .instrument(step("ask"))
            .await?;
        }
        Ok::<_, local::BoxError>(())
    }
    .instrument(session("otlp-demo"))
    .await?;

    hl.shutdown(Duration::from_secs(5)).await?;
    otlp.shutdown(Duration::from_secs(5));
    Ok(())
}
