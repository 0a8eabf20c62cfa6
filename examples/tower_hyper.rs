//! tower users: put `local.hl.layer()` in a `ServiceBuilder` in front of any
//! `Service<http::Request<B>>`, here hyper-util's client. Offline:
//! `cargo run --example tower_hyper`.

#[path = "support/local.rs"]
mod local;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), local::BoxError> {
    let local = local::start_traced(local::Spans::Printed).await?;

    let hyper_client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new()
        .layer(local.hl.layer())
        .service(hyper_client);

    let body =
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Plan a day in Sintra."}]}"#;
    let request = http::Request::post(format!("{}/chat/completions", local.provider))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-demo")
        .body(Full::new(Bytes::from_static(body.as_bytes())))?;
    let response = svc.oneshot(request).await?;
    let bytes = response.into_body().collect().await?.to_bytes();
    println!(
        "provider answered {} bytes: {}",
        bytes.len(),
        String::from_utf8_lossy(&bytes)
    );

    local.hl.shutdown(Duration::from_secs(5)).await?;
    local::print_logs(&local.endpoint).await?;
    Ok(())
}
