//! Concurrent clients, retries racing each other, graceful shutdown and reopening a file.
#![cfg(feature = "server")]

use std::collections::HashSet;

use crate::harness::server::{get, post, start_with};
use humanloop_tracing::server::ServerConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_converge_on_one_datapoint() {
    let (server, http) = start_with(ServerConfig::in_memory()).await;
    let base = server.base_url();
    let log = json!({"session_reference_id": "race", "reference_id": "same",
                     "config": {"type": "tool", "name": "t"}});
    let answers =
        futures_util::future::join_all((0..24).map(|_| post(&http, &base, "/logs", &log))).await;
    let ids: HashSet<String> = answers
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 200, "{b}");
            b["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every retry got the same id");

    let distinct = futures_util::future::join_all((0..24).map(|i| {
        let log = json!({"session_reference_id": "race", "reference_id": format!("r{i}"),
                         "config": {"type": "tool", "name": "t"}});
        let (http, base) = (http.clone(), base.clone());
        async move { post(&http, &base, "/logs", &log).await }
    }))
    .await;
    assert!(distinct.iter().all(|(s, _)| *s == 200));
    let (_, list) = get(&http, &base, "/logs?session_reference_id=race&size=1000").await;
    assert_eq!(list["total"], 25);
}

#[tokio::test]
async fn shutdown_stops_serving_and_the_file_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lifecycle.db");
    let (server, http) = start_with(ServerConfig::with_db(&db)).await;
    let base = server.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v4"));
    let (_, created) = post(
        &http,
        &base,
        "/logs",
        &json!({"project": "p", "config": {"type": "tool", "name": "t"}}),
    )
    .await;
    server.shutdown().await.expect("graceful shutdown");
    assert!(
        http.get(format!("{base}/logs")).send().await.is_err(),
        "nothing listens after shutdown"
    );

    let (server, http) = start_with(ServerConfig::with_db(&db)).await;
    let (s, log) = get(
        &http,
        &server.base_url(),
        &format!("/logs/{}", created["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(log["project_id"], created["project_id"]);
}
