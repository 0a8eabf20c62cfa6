//! With API keys configured, the UI asks for one: a login form that sets an `HttpOnly`
//! cookie holding a random token (not the key); no page ever contains a key.
#![cfg(feature = "server")]

use crate::harness::server::{browser, origin, page};
use humanloop_tracing::server::ServerConfig;
use serde_json::json;

const KEY: &str = "hl-secret-key-0123456789";

async fn post_form(http: &reqwest::Client, url: &str, form: &str) -> reqwest::Response {
    http.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_need_a_login_and_never_show_the_key() {
    let (server, _) =
        crate::harness::server::start_with(ServerConfig::in_memory().api_key(KEY)).await;
    let base = server.base_url();
    let ui = origin(&base);
    let http = browser();

    // A log that mentions a key in its request headers: the endpoint scrubs it.
    let logged = http
        .post(format!("{base}/logs"))
        .header("x-api-key", KEY)
        .json(&json!({"project": "p", "session_reference_id": "s", "output": "hi", "config": {"type": "model", "model": "m"},
                      "provider_request": {"headers": {"x-api-key": KEY}, "model": "m"}}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let id = logged["id"].as_str().unwrap_or_else(|| panic!("{logged}"));

    // No cookie: every page sends to the login form, which keeps where we were going.
    for path in ["/", "/projects", &format!("/logs/{id}"), "/model-configs"] {
        let p = page(&http, &ui, path).await;
        assert_eq!(p.status, 303, "{path}");
        assert!(p.header("location").starts_with("/login?next="), "{path}");
    }
    let form = page(&http, &ui, "/login?next=%2Fprojects").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("type=\"password\""));
    assert!(
        form.body.contains("value=\"&#x2f;projects\""),
        "{}",
        form.body
    );

    // A wrong key: 401 and no cookie.
    let wrong = post_form(&http, &format!("{ui}/login"), "key=nope&next=%2F").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    // The right key: a cookie that is HttpOnly, SameSite=Strict, and not the key.
    let ok = post_form(
        &http,
        &format!("{ui}/login"),
        &format!("key={KEY}&next=%2F%2Fevil.example"),
    )
    .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(ok.headers()["location"], "/", "no redirect off the site");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains(KEY), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert!(pair.len() > "hl_ui=".len() + 32, "{pair}");

    let with_cookie = |path: String| {
        let http = http.clone();
        let pair = pair.clone();
        let ui = ui.clone();
        async move {
            let resp = http
                .get(format!("{ui}{path}"))
                .header("cookie", pair)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, list) = with_cookie("/".into()).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("Log out"));
    let session = crate::harness::server::links(&list, "/sessions/")[0].clone();
    for path in [
        "/".to_owned(),
        format!("/sessions/{session}"),
        format!("/logs/{id}"),
        "/projects".to_owned(),
        "/model-configs".to_owned(),
        "/login".to_owned(),
    ] {
        let (status, body) = with_cookie(path.clone()).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains(KEY), "{path} shows the key");
    }
    // The API's own header works for scripts too.
    let scripted = http
        .get(format!("{ui}/"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.status(), 200);

    // Logging out forgets the token.
    let out = http
        .post(format!("{ui}/logout"))
        .header("cookie", pair.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _) = with_cookie("/".into()).await;
    assert_eq!(status, 303, "the old cookie no longer opens pages");
}
