//! The UI's pages show what the endpoint stored: sessions newest first with their totals
//! and filters, the session's tree with timings and the first-chunk mark, a log's
//! conversation and numbers, steps completed later by a PATCH, `save=false` logs, the
//! project's numbers and the model configs with the logs that used them.
#![cfg(feature = "server")]

use crate::harness::server::{browser, call, links, log, origin, page};
use serde_json::json;

/// The text of the element with `id="ID"`, tags removed.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let from = start + html[start..].find('>').unwrap() + 1;
    let to = from + html[from..].find("</").unwrap();
    html[from..to].trim().to_owned()
}

#[tokio::test]
async fn sessions_tree_and_log_show_the_stored_numbers() {
    let (server, _) = crate::harness::server::start().await;
    let base = server.base_url();
    let http = browser();
    let ui = origin(&base);

    // Session "trip": a step (completed later by PATCH) holding a streamed call with a
    // first chunk, and a failed call at the top level.
    log(
        &http,
        &base,
        json!({"project": "ui-tests", "session_reference_id": "trip", "reference_id": "research",
               "config": {"type": "tool", "name": "research"}, "created_at": "2026-01-01T10:00:00Z"}),
    )
    .await;
    let mut streamed = call(
        "trip",
        Some("research"),
        "c1",
        "Summarise Lisbon",
        "Hills and trams",
    );
    streamed["metadata"] = json!({"gen_ai.response.time_to_first_chunk": 0.125,
                                  "gen_ai.usage.cache_read.input_tokens": 7});
    let streamed_id = log(&http, &base, streamed).await;
    let mut failed = call("trip", None, "c2", "again", "");
    failed["error"] = json!("provider answered 500");
    failed["created_at"] = json!("2026-01-01T10:00:00.500Z");
    log(&http, &base, failed).await;
    let patched = http
        .patch(format!(
            "{base}/logs?reference_id=research&session_reference_id=trip"
        ))
        .json(&json!({"duration": 1.0, "output": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    // Session "quiet": one call with save=false.
    let mut quiet = call("quiet", None, "q1", "secret prompt", "secret answer");
    quiet["save"] = json!(false);
    quiet["config"]["model"] = json!("claude-x");
    quiet["project"] = json!("other");
    let quiet_id = log(&http, &base, quiet).await;

    // Sessions, newest first, with their totals.
    let list = page(&http, &ui, "/").await.body;
    let sessions = links(&list, "/sessions/");
    assert_eq!(sessions.len(), 2, "{list}");
    let quiet_at = list.find(">quiet<").expect("quiet listed");
    let trip_at = list.find(">trip<").expect("trip listed");
    assert!(quiet_at < trip_at, "newest first");
    let trip_row = &list[trip_at..];
    assert!(
        trip_row.contains("<td class=\"num\" data-calls>2</td>"),
        "{trip_row}"
    );
    assert!(trip_row.contains("<td class=\"num\" data-steps>1</td>"));
    assert!(trip_row.contains("<td class=\"num\" data-tokens>30</td>"));
    assert!(trip_row.contains("<span class=\"badge err\">1</span>"));
    assert!(
        trip_row.contains("1.00 s"),
        "session spans the patched step: {trip_row}"
    );

    // Filters: model, errors, free text, project; pages of 50.
    let only = |html: &str| links(html, "/sessions/").len();
    assert_eq!(only(&page(&http, &ui, "/?model=claude-x").await.body), 1);
    assert_eq!(only(&page(&http, &ui, "/?errors=1").await.body), 1);
    assert_eq!(
        only(&page(&http, &ui, "/?q=trams").await.body),
        1,
        "found by output text"
    );
    assert_eq!(
        only(&page(&http, &ui, "/?q=Summarise+lisbon").await.body),
        1,
        "by prompt"
    );
    assert_eq!(only(&page(&http, &ui, "/?q=nowhere").await.body), 0);
    assert_eq!(
        only(&page(&http, &ui, "/?q=%22%29+OR+*").await.body),
        0,
        "FTS syntax is inert"
    );
    assert_eq!(only(&page(&http, &ui, "/?range=1h").await.body), 2);
    assert_eq!(
        only(
            &page(&http, &ui, "/?from=2000-01-01&to=2000-01-02")
                .await
                .body
        ),
        0
    );
    let projects = page(&http, &ui, "/projects").await.body;
    let project_ids = links(&projects, "/projects/");
    assert_eq!(project_ids.len(), 2);
    let filtered: usize = {
        let mut n = 0;
        for p in &project_ids {
            n += only(&page(&http, &ui, &format!("/?project={p}")).await.body);
        }
        n
    };
    assert_eq!(filtered, 2, "each session under its project");

    // The session's tree: the step, its call one level down, timings and the TTFT mark.
    let trip = sessions[list[..trip_at].matches("/sessions/").count() - 1].clone();
    let tree = page(&http, &ui, &format!("/sessions/{trip}")).await.body;
    assert_eq!(text_of(&tree, "session-calls"), "2");
    assert_eq!(text_of(&tree, "session-duration"), "1.00 s");
    let step_at = tree.find("step research").expect("step row");
    let call_at = tree
        .find(&format!("data-id=\"{streamed_id}\""))
        .expect("call row");
    assert!(step_at < call_at);
    assert!(tree[call_at..].contains("class=\"label depth-1\""));
    assert!(tree[call_at..].contains("<td class=\"num\" data-ttft>125 ms</td>"));
    assert!(
        tree[call_at..].contains("<rect class=\"ttft\" x=\"22.5\""),
        "100 ms + 125 ms of 1 s"
    );
    assert!(tree.contains("<rect class=\"bar tool\" x=\"0.0\" y=\"1\" width=\"100.0\""));

    // The log: conversation, numbers, config.
    let call_page = page(&http, &ui, &format!("/logs/{streamed_id}")).await.body;
    assert!(call_page.contains("Summarise Lisbon") && call_page.contains("be brief"));
    assert!(call_page.contains("Hills and trams"));
    assert_eq!(text_of(&call_page, "ttft"), "125 ms");
    assert_eq!(text_of(&call_page, "latency"), "250 ms");
    assert_eq!(text_of(&call_page, "prompt-tokens"), "10");
    assert!(call_page.contains("<dt>Cache read</dt><dd>7</dd>"));
    assert!(call_page.contains("$0.003000"), "prompt + output cost");
    assert!(call_page.contains("<th>temperature</th><td>0.2</td>"));

    // save=false: the page says the payloads were not stored.
    let quiet_page = page(&http, &ui, &format!("/logs/{quiet_id}")).await.body;
    assert!(quiet_page.contains("id=\"not-saved\""));
    assert!(!quiet_page.contains("secret answer") && !quiet_page.contains("secret prompt"));

    // Project: 2 calls, 30 tokens, one error in two.
    let ui_tests = project_ids
        .iter()
        .find(|p| projects.contains(&format!("/projects/{p}\">ui-tests<")))
        .unwrap();
    let project = page(&http, &ui, &format!("/projects/{ui_tests}"))
        .await
        .body;
    assert_eq!(text_of(&project, "project-calls"), "2");
    assert_eq!(text_of(&project, "project-tokens"), "30");
    assert!(text_of(&project, "error-rate").starts_with("50.0%"));
    assert!(project.contains("id=\"chart-latency\""));

    // A project whose calls span days reads hourly roll-ups; a PATCH moves its call's
    // numbers instead of counting it twice.
    for (i, day) in ["01", "05", "09"].iter().enumerate() {
        // A reference id names one log per project (the v4 semantics).
        let mut c = call(&format!("spread-{i}"), None, &format!("c-{i}"), "x", "y");
        c["project"] = json!("spread");
        c["created_at"] = json!(format!("2026-01-{day}T10:00:00Z"));
        log(&http, &base, c).await;
    }
    let spread = links(&page(&http, &ui, "/projects").await.body, "/projects/")
        .into_iter()
        .find(|p| !project_ids.contains(p))
        .unwrap();
    let before = page(&http, &ui, &format!("/projects/{spread}")).await.body;
    assert_eq!(text_of(&before, "project-calls"), "3");
    assert!(before.contains("One bar per 6 h"), "hourly buckets");
    let patched = http
        .patch(format!(
            "{base}/logs?reference_id=c-1&session_reference_id=spread-1"
        ))
        .json(&json!({"error": "late failure", "output_tokens": 105}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let after = page(&http, &ui, &format!("/projects/{spread}")).await.body;
    assert_eq!(text_of(&after, "project-calls"), "3", "{after}");
    assert_eq!(text_of(&after, "project-tokens"), "145", "15 + 115 + 15");
    assert!(text_of(&after, "error-rate").starts_with("33.3%"));
    assert!(
        after.contains("<td class=\"num\">145</td>"),
        "top models from the roll-up"
    );

    // Model configs and the logs made with them (the endpoint's own completions).
    let config = http
        .post(format!("{base}/model-configs"))
        .json(
            &json!({"project": "ui-tests", "model": "mock-1", "provider": "mock", "name": "tagline",
                      "prompt_template": "Tagline for {{city}}"}),
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let config_id = config["config"]["id"].as_str().unwrap();
    let done = http
        .post(format!("{base}/completion-model-config"))
        .json(&json!({"model_config_id": config_id, "project": "ui-tests",
                      "session_reference_id": "trip", "inputs": {"city": "Porto"}, "num_samples": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let configs = page(&http, &ui, "/model-configs").await.body;
    assert!(configs.contains(&format!("href=\"/model-configs/{config_id}\"")));
    let detail = page(&http, &ui, &format!("/model-configs/{config_id}"))
        .await
        .body;
    assert_eq!(text_of(&detail, "config-logs"), "2");
    assert_eq!(links(&detail, "/logs/").len(), 2);
    let tree = page(&http, &ui, &format!("/sessions/{trip}")).await.body;
    assert_eq!(
        text_of(&tree, "session-calls"),
        "4",
        "the completions joined the session"
    );
    assert!(tree.contains("mock-1 <span class=\"muted\">(tagline)</span>"));

    // Pagination: 60 more sessions make a second page.
    let batch: Vec<_> = (0..60)
        .map(|i| call(&format!("bulk-{i}"), None, &format!("b-{i}"), "x", "y"))
        .collect();
    let resp = http
        .post(format!("{base}/logs"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = page(&http, &ui, "/").await.body;
    assert_eq!(only(&first), 50);
    assert!(first.contains("?page=2\""), "next link");
    let second = page(&http, &ui, "/?page=2").await.body;
    assert_eq!(only(&second), 15, "65 sessions in all");
}
