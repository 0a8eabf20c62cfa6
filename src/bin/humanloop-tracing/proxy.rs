//! `humanloop-tracing proxy`: the tracing reverse proxy as a process (feature `proxy`).
//!
//! ```text
//! humanloop-tracing proxy --listen 127.0.0.1:4000 \
//!     --upstream openai=https://api.openai.com/v1 \
//!     --upstream anthropic=https://api.anthropic.com \
//!     --upstream ollama=http://localhost:11434 --serve
//! ```
//! Logs go to `HUMANLOOP_BASE_URL` (every `HUMANLOOP_*` setting applies), or with `--serve`
//! to the local endpoint started in the same process; spans go by OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (feature `otlp`). Prints `proxy listening on
//! http://ADDR` (and `endpoint listening on http://ADDR/v4` with `--serve`) once ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use humanloop_tracing::proxy::{Proxy, ProxyConfig, DEFAULT_BODY_LIMIT, DEFAULT_MAX_CONNECTIONS};
use humanloop_tracing::server::{self, ServerConfig};
use humanloop_tracing::{ConfigBuilder, Humanloop};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "HUMANLOOP_PROXY_LISTEN", default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// An upstream, `NAME=URL` (served under `/NAME`) or a bare `URL` (the default
    /// upstream, at most one). Repeatable; env: comma separated.
    #[arg(
        long = "upstream",
        value_name = "NAME=URL",
        env = "HUMANLOOP_PROXY_UPSTREAMS",
        value_delimiter = ',',
        required = true
    )]
    upstreams: Vec<String>,
    /// A key to inject for an upstream, `NAME=KEY` (`default` for the default upstream),
    /// replacing the client's. Repeatable; env: comma separated.
    #[arg(
        long = "upstream-key",
        value_name = "NAME=KEY",
        env = "HUMANLOOP_PROXY_UPSTREAM_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    upstream_keys: Vec<String>,
    /// Largest request body in bytes.
    #[arg(long, env = "HUMANLOOP_PROXY_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// Most upstream requests at once.
    #[arg(long, env = "HUMANLOOP_PROXY_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Also trust the CA certificates in this PEM file for upstreams.
    #[arg(long, value_name = "PEM")]
    upstream_ca: Option<PathBuf>,
    /// Run the local endpoint in this process and send the logs there.
    #[arg(long)]
    serve: bool,
    /// With `--serve`: its address.
    #[arg(long, default_value = "127.0.0.1:8787", requires = "serve")]
    serve_addr: SocketAddr,
    /// With `--serve`: its SQLite file (in memory without it).
    #[arg(long, requires = "serve")]
    serve_db: Option<PathBuf>,
}

pub fn main(args: ProxyArgs) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: ProxyArgs) -> Result<(), BoxError> {
    // An application may pick the process's provider (the OTLP exporter's reqwest uses it).
    let _ = rustls::crypto::ring::default_provider().install_default();

    let mut config = ProxyConfig::new()
        .body_limit(args.body_limit)
        .max_connections(args.max_connections);
    for spec in args.upstreams.iter().filter(|s| !s.trim().is_empty()) {
        config = config.upstream(spec)?;
    }
    for spec in args.upstream_keys.iter().filter(|s| !s.trim().is_empty()) {
        let Some((name, key)) = spec.split_once('=') else {
            return Err("--upstream-key takes NAME=KEY".into());
        };
        config = config.upstream_key(name.trim(), key.trim())?;
    }
    if let Some(path) = &args.upstream_ca {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        config = config.add_root_certificate_pem(pem);
    }

    let endpoint = if args.serve {
        let server_config = match &args.serve_db {
            Some(db) => ServerConfig::with_db(db),
            None => ServerConfig::in_memory(),
        };
        let handle = server::spawn(server_config, args.serve_addr).await?;
        println!("endpoint listening on {}", handle.base_url());
        Some(handle)
    } else {
        None
    };
    let mut builder = ConfigBuilder::from_env()?;
    if let Some(handle) = &endpoint {
        builder = builder.base_url(handle.base_url());
    }
    let hl = Humanloop::new(builder.build()?)?;

    let otel = otlp::init()?;
    tracing_subscriber::registry()
        .with(hl.tracing_layer())
        .with(otel.as_ref().map(|o| o.layer()))
        .try_init()?;

    let proxy = Proxy::new(hl.layer(), config)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("proxy listening on http://{}", listener.local_addr()?);
    // Each SSE event is a small write: without TCP_NODELAY, Nagle's algorithm and the
    // client's delayed ACK can hold a chunk back by up to 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let prefixes = proxy.prefixes();
    if !prefixes.is_empty() {
        println!("prefixes: {}", prefixes.join(", "));
    }
    axum::serve(listener, proxy.router())
        .with_graceful_shutdown(crate::shutdown_signal())
        .await?;
    eprintln!("shutting down");
    let flushed = hl.shutdown(Duration::from_secs(5)).await;
    if let Some(otel) = otel {
        otel.shutdown();
    }
    if let Some(handle) = endpoint {
        handle.shutdown().await?;
    }
    flushed?;
    Ok(())
}

#[cfg(feature = "otlp")]
mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    pub struct Otlp(SdkTracerProvider);

    /// Spans by OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads the other `OTEL_*`.
    pub fn init() -> Result<Option<Otlp>, super::BoxError> {
        let set = |k| std::env::var(k).is_ok_and(|v: String| !v.trim().is_empty());
        if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            return Ok(None);
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if !set("OTEL_SERVICE_NAME") {
            resource = resource.with_service_name("humanloop-tracing-proxy");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        Ok(Some(Otlp(provider)))
    }

    impl Otlp {
        pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S>
        where
            S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
        {
            tracing_opentelemetry::layer().with_tracer(self.0.tracer("humanloop-tracing"))
        }

        pub fn shutdown(self) {
            let _ = self.0.shutdown();
        }
    }
}

#[cfg(not(feature = "otlp"))]
mod otlp {
    pub struct Otlp;

    pub fn init() -> Result<Option<Otlp>, super::BoxError> {
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
            eprintln!(
                "warning: OTEL_EXPORTER_OTLP_ENDPOINT is set but this binary was built without \
                 feature `otlp`: no spans are exported"
            );
        }
        Ok(None)
    }

    impl Otlp {
        pub fn layer(&self) -> tracing_subscriber::layer::Identity {
            tracing_subscriber::layer::Identity::new()
        }
        pub fn shutdown(self) {}
    }
}
