//! The web UI: `/` on the endpoint's own port (the API stays under `/v4`).
//!
//! Server-rendered HTML (minijinja, auto-escaping on), one stylesheet and one small script
//! compiled into the binary (no CDN, no build step, nothing fetched from the network).
//! Pages:
//!
//! | path | page |
//! |---|---|
//! | `/` | sessions, newest first; filters `project`, `range`, `from`, `to`, `model`, `errors`, `q`, `page` |
//! | `/sessions/{id}` | the session's tree of steps and calls with a waterfall timeline |
//! | `/logs/{id}` | one log: conversation, output, config, tokens, cost, timings, payloads |
//! | `/projects`, `/projects/{id}` | projects; a project's calls, tokens, cost and latency over time |
//! | `/model-configs`, `/model-configs/{id}` | saved model configs and the logs that used each |
//!
//! Every page's state is in its URL, so links can be shared. Safety: every stored string is
//! escaped, URLs from logs are linked only when they are `http(s)`, the
//! `Content-Security-Policy` forbids inline script, and when the server has API keys the
//! UI asks for one (`/login`) and remembers it with an `HttpOnly` cookie holding a random
//! token, never the key.

mod auth;
mod chart;
pub(crate) mod index;
mod pages;
mod queries;
mod view;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::ServerState;

/// The policy of every UI answer: scripts and styles only from this server, nothing inline,
/// no frames, forms post only here.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

const APP_CSS: &str = include_str!("static/app.css");
const APP_JS: &str = include_str!("static/app.js");
const FAVICON: &str = include_str!("static/favicon.svg");

/// The UI's routes, to merge into the endpoint's router.
pub(crate) fn router(state: &ServerState) -> Router<ServerState> {
    let ui = Arc::new(pages::Ui::new(state.inner.api_keys.clone()));
    let pages = Router::new()
        .route("/", get(pages::sessions))
        .route("/sessions/{id}", get(pages::session))
        .route("/logs/{id}", get(pages::log))
        .route("/projects", get(pages::projects))
        .route("/projects/{id}", get(pages::project))
        .route("/model-configs", get(pages::model_configs))
        .route("/model-configs/{id}", get(pages::model_config))
        .route_layer(middleware::from_fn(auth::require_login));
    Router::new()
        .merge(pages)
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", axum::routing::post(auth::logout))
        .route(
            "/ui/app.css",
            get(|| asset("text/css; charset=utf-8", APP_CSS)),
        )
        .route(
            "/ui/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route("/ui/favicon.svg", get(|| asset("image/svg+xml", FAVICON)))
        .route("/favicon.ico", get(|| asset("image/svg+xml", FAVICON)))
        .layer(middleware::from_fn(security_headers))
        .layer(Extension(ui))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
