//! Every page of the UI is answered with a Content-Security-Policy that allows scripts and
//! styles from the server only (no inline script), and the pages need nothing more: no
//! inline `<script>`, no `on…=` handler, no `style=` attribute, nothing from another host.
#![cfg(feature = "server")]

use crate::harness::server::{browser, call, links, log, origin, page};

#[tokio::test]
async fn pages_carry_a_policy_they_comply_with() {
    let (server, _) = crate::harness::server::start().await;
    let base = server.base_url();
    let http = browser();
    let ui = origin(&base);
    let id = log(&http, &base, call("s1", None, "c1", "hello", "world")).await;

    let mut paths = vec![
        "/".to_owned(),
        "/projects".to_owned(),
        "/model-configs".to_owned(),
        format!("/logs/{id}"),
        "/login".to_owned(),
        "/logs/data_missing".to_owned(),
    ];
    let list = page(&http, &ui, "/").await;
    paths.extend(
        links(&list.body, "/sessions/")
            .iter()
            .map(|s| format!("/sessions/{s}")),
    );
    let projects = page(&http, &ui, "/projects").await;
    paths.extend(
        links(&projects.body, "/projects/")
            .iter()
            .map(|p| format!("/projects/{p}")),
    );
    assert!(paths.len() >= 8, "{paths:?}");

    for path in &paths {
        let p = page(&http, &ui, path).await;
        let csp = p.header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(p.header("x-content-type-options"), "nosniff", "{path}");
        assert!(p.header("content-type").starts_with("text/html"), "{path}");
        let html = &p.body;
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains("src=\"/ui/"), "{path}: inline script {tag}");
        }
        let lower = html.to_ascii_lowercase();
        for attr in [
            " onclick=",
            " onload=",
            " onerror=",
            " style=",
            "http://",
            "https://",
        ] {
            assert!(!lower.contains(attr), "{path}: {attr} in the page");
        }
    }
    // The page missing is a 404 page, with the same policy.
    assert_eq!(page(&http, &ui, "/logs/data_missing").await.status, 404);

    // The script and stylesheet are served by the binary itself.
    for asset in ["/ui/app.js", "/ui/app.css", "/ui/favicon.svg"] {
        let p = page(&http, &ui, asset).await;
        assert_eq!(p.status, 200, "{asset}");
        assert!(!p.body.is_empty());
    }
}
