//! The UI's login: when the server has API keys, pages need a cookie that `/login` sets
//! for a correct key. The cookie holds a random token known only to this process (the key
//! itself is never sent back, stored in a cookie, or written in a page).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use serde_json::json;

use super::pages::{render, Ui};

const COOKIE: &str = "hl_ui";

/// Logged-in tokens kept; the oldest is forgotten beyond this.
const MAX_TOKENS: usize = 1024;

/// The tokens handed out by `/login`.
#[derive(Default)]
pub(crate) struct Logins {
    tokens: Mutex<VecDeque<String>>,
}

impl Logins {
    fn add(&self) -> String {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() >= MAX_TOKENS {
            t.pop_front();
        }
        t.push_back(token.clone());
        token
    }

    fn knows(&self, token: &str) -> bool {
        let t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        t.iter().any(|k| eq(k.as_bytes(), token.as_bytes()))
    }

    fn remove(&self, token: &str) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        t.retain(|k| !eq(k.as_bytes(), token.as_bytes()));
    }
}

fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

fn logged_in(ui: &Ui, headers: &HeaderMap) -> bool {
    if ui.api_keys.is_empty() {
        return true;
    }
    if let Some(token) = cookie_token(headers) {
        if ui.logins.knows(token) {
            return true;
        }
    }
    // Scripts may send the API's own header instead.
    headers
        .get("x-api-key")
        .is_some_and(|g| ui.api_keys.iter().any(|k| eq(k.as_bytes(), g.as_bytes())))
}

/// A local path to come back to after the login (never another site).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Pages: pass when logged in (or no keys are configured), else to the login form.
pub(crate) async fn require_login(
    Extension(ui): Extension<Arc<Ui>>,
    req: Request,
    next: Next,
) -> Response {
    if logged_in(&ui, req.headers()) {
        return next.run(req).await;
    }
    let here = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let target: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &here)
        .finish();
    Redirect::to(&format!("/login?{target}")).into_response()
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

pub(crate) async fn login_form(
    Extension(ui): Extension<Arc<Ui>>,
    Query(q): Query<LoginQuery>,
) -> Response {
    form(&ui, StatusCode::OK, &local_path(q.next.as_deref()), None)
}

fn form(ui: &Ui, status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let mut resp = render(
        ui,
        "login.html",
        json!({"next": next, "error": error, "open": ui.api_keys.is_empty()}),
    );
    *resp.status_mut() = status;
    resp
}

/// `POST /login` with `key` (and `next`): a cookie for a configured key.
pub(crate) async fn login(Extension(ui): Extension<Arc<Ui>>, body: Bytes) -> Response {
    let mut key = None;
    let mut next = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "key" => key = Some(v.into_owned()),
            "next" => next = Some(v.into_owned()),
            _ => {}
        }
    }
    let next = local_path(next.as_deref());
    if ui.api_keys.is_empty() {
        return Redirect::to(&next).into_response();
    }
    let ok = key
        .as_deref()
        .is_some_and(|g| ui.api_keys.iter().any(|k| eq(k.as_bytes(), g.as_bytes())));
    if !ok {
        return form(
            &ui,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That key is not valid."),
        );
    }
    let token = ui.logins.add();
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, next)],
    )
        .into_response()
}

/// `POST /logout`: forget the token and clear the cookie.
pub(crate) async fn logout(Extension(ui): Extension<Arc<Ui>>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_token(&headers) {
        ui.logins.remove(token);
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/login".to_owned()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/sessions/x?a=1")), "/sessions/x?a=1");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; hl_ui=tok; b=2".parse().unwrap());
        assert_eq!(cookie_token(&h), Some("tok"));
    }
}
