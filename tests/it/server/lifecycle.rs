//! Concurrent clients, retries racing each other, graceful shutdown and reopening a file.
#![cfg(feature = "server")]

use std::collections::HashSet;

use crate::harness::server::Api;
use humanloop_tracing::server::ServerConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_converge_on_one_datapoint() {
    let api = Api::start_with(ServerConfig::in_memory()).await;
    let log = json!({"session_reference_id": "race", "reference_id": "same",
                     "config": {"type": "tool", "name": "t"}});
    let answers = futures_util::future::join_all((0..24).map(|_| api.post("/logs", &log))).await;
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
        let api = &api;
        async move { api.post("/logs", &log).await }
    }))
    .await;
    assert!(distinct.iter().all(|(s, _)| *s == 200));
    let (_, list) = api.get("/logs?session_reference_id=race&size=1000").await;
    assert_eq!(list["total"], 25);
}

#[tokio::test]
async fn shutdown_stops_serving_and_the_file_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lifecycle.db");
    let api = Api::start_with(ServerConfig::with_db(&db)).await;
    let (http, base) = (api.http.clone(), api.base.clone());
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/v4"));
    let (_, created) = api
        .post(
            "/logs",
            &json!({"project": "p", "config": {"type": "tool", "name": "t"}}),
        )
        .await;
    api.server.shutdown().await.expect("graceful shutdown");
    assert!(
        http.get(format!("{base}/logs")).send().await.is_err(),
        "nothing listens after shutdown"
    );

    let api = Api::start_with(ServerConfig::with_db(&db)).await;
    let log = api
        .get_ok(&format!("/logs/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(log["project_id"], created["project_id"]);
}
