//! Every stored string reaches the UI's pages as text: `<script>`, attribute breakouts and
//! `javascript:` URLs in image parts never become markup or links.
#![cfg(feature = "server")]

use crate::harness::server::{browser, links, log, origin, page};
use serde_json::json;

const SCRIPT: &str = "<script>alert('x')</script>";
const BREAKOUT: &str = "\"><img src=x onerror=alert(1)>";
const JS_URL: &str = "javascript:alert(document.cookie)";

/// No markup came from the stored strings: every real tag is one of the page's own (no
/// `<img>`, no inline `<script>`, no `on…=` handler, no `javascript:` or `data:` target).
fn assert_inert(what: &str, html: &str) {
    for (i, _) in html.match_indices('<') {
        let tag = &html[i..i + html[i..].find('>').map_or(html.len() - i, |e| e + 1)];
        let lower = tag.to_ascii_lowercase();
        assert!(!lower.starts_with("<img"), "{what}: {tag}");
        if lower.starts_with("<script") {
            assert!(lower.contains("src=\"/ui/app.js\""), "{what}: {tag}");
        }
        // Attribute names, quoted values left out (escaped text holds no raw quote).
        let names: String = lower.split('"').step_by(2).collect::<Vec<_>>().join(" ");
        for attr in names.split_whitespace().skip(1) {
            assert!(!attr.starts_with("on"), "{what}: handler in {tag}");
        }
        for target in [" href=\"", " src=\""] {
            for (j, _) in lower.match_indices(target) {
                let url = &lower[j + target.len()..];
                assert!(
                    !url.starts_with("javascript:") && !url.starts_with("data:"),
                    "{what}: {tag}"
                );
            }
        }
    }
}

#[tokio::test]
async fn hostile_strings_render_as_text_on_every_page() {
    let (server, _) = crate::harness::server::start().await;
    let base = server.base_url();
    let http = browser();
    let ui = origin(&base);

    let session = format!("sess-{BREAKOUT}");
    let step = log(
        &http,
        &base,
        json!({
            "project": format!("proj {SCRIPT}"), "session_reference_id": session,
            "reference_id": "step-1", "config": {"type": "tool", "name": format!("step {BREAKOUT}")},
            "output": SCRIPT, "error": format!("failed: {SCRIPT}"),
            "metadata": {BREAKOUT: SCRIPT, "note": BREAKOUT},
            "created_at": "2026-01-01T10:00:00Z", "duration": 1.0,
        }),
    )
    .await;
    let call = log(
        &http,
        &base,
        json!({
            "project": format!("proj {SCRIPT}"), "session_reference_id": session,
            "parent_reference_id": "step-1", "reference_id": "call-1",
            "config": {"type": "model", "model": format!("gpt {BREAKOUT}"), "provider": SCRIPT},
            "messages": [
                {"role": "system", "content": SCRIPT},
                {"role": "user", "content": [
                    {"type": "text", "text": BREAKOUT},
                    {"type": "image_url", "image_url": {"url": JS_URL}},
                    {"type": "image_url", "image_url": {"url": " JaVaScRiPt:alert(2)"}},
                    {"type": "image_url", "image_url": {"url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png?a=1&b=\"2\""}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": BREAKOUT, "type": "function", "function": {"name": SCRIPT, "arguments": format!("{{\"q\": \"{}\"}}", "</pre><script>alert(3)</script>")}}
                ]}
            ],
            "output": format!("{SCRIPT}{BREAKOUT}"),
            "inputs": {"city": SCRIPT}, "feedback": {"comment": SCRIPT},
            "provider_request": {"messages": [{"content": SCRIPT}]},
            "provider_response": {"choices": [{"text": BREAKOUT}]},
            "prompt_tokens": 3, "output_tokens": 4, "duration": 0.5,
            "created_at": "2026-01-01T10:00:00.100Z",
        }),
    )
    .await;
    let config = http
        .post(format!("{base}/model-configs"))
        .json(
            &json!({"project": "p", "model": format!("m {BREAKOUT}"), "name": SCRIPT,
                       "chat_template": [{"role": "user", "content": SCRIPT}]}),
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let config_id = config["config"]["id"].as_str().unwrap();

    let list = page(&http, &ui, "/").await;
    assert_eq!(list.status, 200);
    assert_inert("sessions", &list.body);
    let session_path = &links(&list.body, "/sessions/")[0];
    assert!(
        list.body
            .contains("sess-&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        list.body
    );

    let mut pages = vec![
        format!("/sessions/{session_path}"),
        format!("/logs/{step}"),
        format!("/logs/{call}"),
        "/projects".to_owned(),
        "/model-configs".to_owned(),
        format!("/model-configs/{config_id}"),
        format!("/?q={}", "alert"),
        format!("/?model={}", url_encode(&format!("gpt {BREAKOUT}"))),
    ];
    let projects = page(&http, &ui, "/projects").await;
    pages.extend(
        links(&projects.body, "/projects/")
            .into_iter()
            .map(|p| format!("/projects/{p}")),
    );
    for path in &pages {
        let p = page(&http, &ui, path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.body);
        assert_inert(path, &p.body);
    }

    let call_page = page(&http, &ui, &format!("/logs/{call}")).await.body;
    // The text is there, escaped.
    assert!(
        call_page.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;"),
        "{call_page}"
    );
    // Only the https image is a link (its quotes escaped); the others are named, not linked.
    // (minijinja escapes `/` too: `&#x2f;` is still `/` to the browser.)
    let image_links = links(&call_page, "https:&#x2f;&#x2f;example.com&#x2f;");
    assert_eq!(
        image_links,
        ["cat.png?a=1&amp;b=&quot;2&quot;"],
        "{call_page}"
    );
    assert!(call_page.contains("not linked"), "{call_page}");
    assert!(
        call_page.contains("inline image (text&#x2f;html"),
        "{call_page}"
    );
    assert_eq!(
        call_page.matches("<a href=\"https:").count(),
        1,
        "{call_page}"
    );
    // Tool call arguments cannot close their <pre>.
    assert!(
        call_page.contains("&lt;&#x2f;pre&gt;&lt;script&gt;alert(3)"),
        "{call_page}"
    );
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
