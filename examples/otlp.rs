//! Spans to any OpenTelemetry backend by OTLP/HTTP (protobuf): Jaeger, Tempo, Phoenix, an
//! OpenTelemetry Collector. Set `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://localhost:4318`)
//! to send them there; without it the example starts a tiny OTLP receiver on loopback
//! and prints what arrives, so it runs offline: `cargo run --example otlp`.

#[path = "support/demo_provider.rs"]
mod demo_provider;
#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use humanloop_tracing::{session, step, Config};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
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
    let endpoint = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(url) if !url.is_empty() => url,
        _ => receiver().await?,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("otlp-example")
                .build(),
        )
        .build();
    tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("otlp-example")))
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

    provider.force_flush()?;
    hl.shutdown(Duration::from_secs(5)).await?;
    provider.shutdown()?;
    println!("spans sent to {endpoint}/v1/traces");
    Ok(())
}
