//! Web UI page times with 100 000 logs in the database (10 000 sessions of 10 logs: a
//! step and nine LLM calls, three models, 1 % errors, spread over 30 days, on a SQLite
//! file like `serve --db`). Each page is fetched over HTTP from the running endpoint, so a
//! sample covers routing, the UI's index check, the queries and the rendering.
//!
//! The first pages after the logs arrive index them (once, a bounded number per page);
//! that time is printed apart.
//!
//! Run: `cargo bench --bench ui_pages` (goal: every page under 200 ms).

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

const SESSIONS: usize = 10_000;
const PER_SESSION: usize = 10;
const MODELS: [&str; 3] = ["gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"];

fn at(i: usize) -> String {
    // The last 30 days, one session every ~4 minutes.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let ms = now - 30 * 86_400_000 + (i as u64) * 259_200;
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn step(s: usize) -> Value {
    json!({
        "project": "bench", "session_reference_id": format!("session-{s}"),
        "reference_id": format!("agent-{s}"), "config": {"type": "tool", "name": "agent"},
        "created_at": at(s), "duration": 2.5, "output": "done",
    })
}

fn call(s: usize, k: usize, config_id: &str) -> Value {
    let n = s * PER_SESSION + k;
    let model = MODELS[n % MODELS.len()];
    let mut log = json!({
        "project": "bench", "session_reference_id": format!("session-{s}"),
        "reference_id": format!("call-{s}-{k}"),
        "config": {"type": "model", "model": model, "provider": "openai", "temperature": 0.2},
        "messages": [
            {"role": "system", "content": "You are a concise travel agent."},
            {"role": "user", "content": format!("Plan day {k} of trip {s} to Lisbon: museums, food, a walk by the river.")}
        ],
        "output": format!("Day {k}: Alfama in the morning, Belém after lunch, fado at night (trip {s})."),
        "prompt_tokens": 40 + k as i64, "output_tokens": 20 + k as i64,
        "prompt_cost": 0.000006, "output_cost": 0.000012,
        "duration": 0.2 + (n % 17) as f64 * 0.05, "created_at": at(s),
        "metadata": {"gen_ai.response.time_to_first_chunk": 0.08},
    });
    if k < 4 {
        log["parent_reference_id"] = json!(format!("agent-{s}"));
    }
    if n % 100 == 7 {
        log["error"] = json!("provider answered 500");
    }
    if k == 9 {
        log["config_id"] = json!(config_id);
    }
    log
}

fn fill(rt: &tokio::runtime::Runtime, http: &reqwest::Client, base: &str) -> (String, String) {
    rt.block_on(async {
        let config: Value = http
            .post(format!("{base}/model-configs"))
            .json(&json!({"project": "bench", "model": "gpt-4o-mini", "name": "planner"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let config_id = config["config"]["id"].as_str().unwrap().to_owned();
        let post = |batch: Vec<Value>| async move {
            let resp = http
                .post(format!("{base}/logs"))
                .json(&batch)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        };
        // Steps first: a parent must come from an earlier request.
        for chunk in (0..SESSIONS).collect::<Vec<_>>().chunks(1000) {
            post(chunk.iter().map(|&s| step(s)).collect()).await;
        }
        let calls: Vec<(usize, usize)> = (0..SESSIONS)
            .flat_map(|s| (0..PER_SESSION - 1).map(move |k| (s, k)))
            .collect();
        for chunk in calls.chunks(1000) {
            post(chunk.iter().map(|&(s, k)| call(s, k, &config_id)).collect()).await;
        }
        (config_id, base.trim_end_matches("/v4").to_owned())
    })
}

fn get(rt: &tokio::runtime::Runtime, http: &reqwest::Client, url: &str) -> String {
    rt.block_on(async {
        let resp = http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        resp.text().await.unwrap()
    })
}

fn first_link(html: &str, prefix: &str) -> String {
    let i = html.find(&format!("href=\"{prefix}")).expect(prefix) + 6;
    html[i..i + html[i..].find('"').unwrap()].to_owned()
}

fn ui_pages(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = common::multi_thread_runtime(2);
    let (_dir, endpoint) = common::local_endpoint(&rt, "ui.db");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let (config_id, ui) = fill(&rt, &http, &endpoint.base_url());
    println!(
        "filled {} logs in {:.1} s",
        SESSIONS * PER_SESSION,
        started.elapsed().as_secs_f64()
    );
    // The first pages index the new logs (a bounded number per page), once.
    let started = Instant::now();
    let mut list = get(&rt, &http, &format!("{ui}/"));
    let mut loads = 1;
    while list.contains("Still indexing") {
        list = get(&rt, &http, &format!("{ui}/"));
        loads += 1;
    }
    println!(
        "indexing the 100 000 logs once: {:.2} s over the first {loads} page loads",
        started.elapsed().as_secs_f64()
    );
    let session = first_link(&list, "/sessions/");
    let tree = get(&rt, &http, &format!("{ui}{session}"));
    let log = first_link(&tree, "/logs/");
    let project = first_link(&list, "/projects/");

    let pages = [
        ("sessions", "/".to_owned()),
        ("sessions_page_100", "/?page=100".to_owned()),
        ("sessions_by_model", "/?model=claude-sonnet-4-5".to_owned()),
        ("sessions_with_errors", "/?errors=1".to_owned()),
        ("sessions_search", "/?q=trip+4242".to_owned()),
        (
            "sessions_last_7d",
            format!("/?range=7d&project={}", &project[10..]),
        ),
        ("session", session),
        ("log", log),
        ("project_all", format!("{project}?range=all")),
        ("project_7d", format!("{project}?range=7d")),
        ("model_configs", "/model-configs".to_owned()),
        ("model_config", format!("/model-configs/{config_id}")),
    ];
    let mut group = c.benchmark_group("ui_pages");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for (name, path) in &pages {
        let url = format!("{ui}{path}");
        group.bench_function(*name, |b| b.iter(|| get(&rt, &http, &url)));
    }
    group.finish();
    rt.block_on(endpoint.shutdown()).unwrap();
}

criterion_group!(benches, ui_pages);
criterion_main!(benches);
