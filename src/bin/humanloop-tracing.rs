//! `humanloop-tracing serve`: the compatible local endpoint as a process.
//!
//! ```text
//! humanloop-tracing serve --addr 127.0.0.1:8787 --db humanloop.db --api-key KEY
//! ```
//! Keys may also come from env `HUMANLOOP_SERVER_API_KEYS` (comma separated). Without keys
//! the server is open (local development), so a non-loopback `--addr` without keys is
//! refused unless `--allow-unauthenticated` is given. Prints `listening on
//! http://ADDR/v4` once ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use humanloop_tracing::server::{self, ServerConfig, DEFAULT_BODY_LIMIT};

#[cfg(feature = "proxy")]
#[path = "humanloop-tracing/proxy.rs"]
mod proxy;

#[derive(Parser)]
#[command(name = "humanloop-tracing", version, about = "humanloop-tracing tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the compatible endpoint (the `/v4` API) on a SQLite database.
    Serve(Serve),
    /// Run the tracing reverse proxy (feature `proxy`): point clients that take no
    /// middleware at it.
    #[cfg(feature = "proxy")]
    Proxy(proxy::ProxyArgs),
}

#[derive(clap::Args)]
struct Serve {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: SocketAddr,
    /// SQLite database file (created if missing).
    #[arg(long, default_value = "humanloop.db", conflicts_with = "in_memory")]
    db: PathBuf,
    /// Keep everything in memory instead of a file.
    #[arg(long)]
    in_memory: bool,
    /// Accepted `X-API-KEY` (repeatable).
    #[arg(long = "api-key", value_name = "KEY", hide_env_values = true)]
    api_keys: Vec<String>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// Default base URL of the OpenAI-compatible provider.
    #[arg(long, env = "OPENAI_BASE_URL")]
    openai_base_url: Option<String>,
    /// Default base URL of the Anthropic provider.
    #[arg(long, env = "ANTHROPIC_BASE_URL")]
    anthropic_base_url: Option<String>,
    /// Serve a non-loopback address without API keys (anyone who can reach it may read
    /// and write every log). Refused without this flag.
    #[arg(long)]
    allow_unauthenticated: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        #[cfg(feature = "proxy")]
        Command::Proxy(args) => return proxy::main(args),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Serve) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = if args.in_memory {
        ServerConfig::in_memory()
    } else {
        ServerConfig::with_db(&args.db)
    };
    let env_keys = std::env::var("HUMANLOOP_SERVER_API_KEYS").unwrap_or_default();
    config = config
        .api_keys(args.api_keys.clone())
        .api_keys(env_keys.split(',').map(str::trim).filter(|k| !k.is_empty()))
        .body_limit(args.body_limit);
    let keyed = !args.api_keys.is_empty() || env_keys.split(',').any(|k| !k.trim().is_empty());
    if !keyed && !args.addr.ip().is_loopback() && !args.allow_unauthenticated {
        return Err(format!(
            "refusing to serve {} without API keys: anyone who can reach it could read and \
             write every log. Give --api-key KEY (or HUMANLOOP_SERVER_API_KEYS), bind a \
             loopback address (127.0.0.1), or pass --allow-unauthenticated to accept that",
            args.addr
        )
        .into());
    }
    if let Some(url) = args.openai_base_url {
        config = config.openai_base_url(url);
    }
    if let Some(url) = args.anthropic_base_url {
        config = config.anthropic_base_url(url);
    }
    let handle = server::spawn(config, args.addr).await?;
    println!("listening on {}", handle.base_url());
    shutdown_signal().await;
    eprintln!("shutting down");
    Ok(handle.shutdown().await?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
