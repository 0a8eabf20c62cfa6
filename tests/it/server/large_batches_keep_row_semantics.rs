//! A batch of `POST /logs` is stored with multi-row statements (64, 16, 4 and 1 rows); a
//! batch of 150 logs crossing every statement size answers and stores exactly what logging
//! them one by one would: one answer per log in order, a repeat of a reference id within
//! the batch answers the datapoint stored first, a retry of the batch stores nothing new
//! and answers the same ids, feedback lands on its log, rows keep the batch order, and a
//! log naming a parent from the same batch, or a reference id given in two sessions of one
//! batch, is refused with nothing stored.
#![cfg(feature = "server")]

use crate::harness::server::Api;
use humanloop_tracing::server::ServerConfig;
use serde_json::{json, Value};

fn log(reference: &str) -> Value {
    json!({"project": "batch", "reference_id": reference,
           "config": {"type": "model", "model": "gpt-4o-mini"}, "output": reference})
}

fn ids(answer: &Value) -> Vec<String> {
    answer
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn large_batches_keep_row_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start_with(ServerConfig::with_db(dir.path().join("batch.db"))).await;
    let first = api.post_ok("/logs", &json!([log("parent")])).await;
    let parent = ids(&first).remove(0);

    // 150 logs: 149 distinct references, r5 again at 100, feedback on r7, a parent from an
    // earlier request on r120.
    let mut batch: Vec<Value> = (0..150).map(|i| log(&format!("r{i}"))).collect();
    batch[100] = log("r5");
    batch[7]["feedback"] = json!([{"type": "rating", "value": "good"}]);
    batch[120]["parent_reference_id"] = json!("parent");
    let answer = api.post_ok("/logs", &Value::Array(batch.clone())).await;
    let got = ids(&answer);
    assert_eq!(got.len(), 150);
    assert_eq!(
        got[100], got[5],
        "a repeat answers the datapoint stored first"
    );
    let distinct: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), 149);

    let list = api.get_ok("/logs?project=batch&size=1000").await;
    assert_eq!(list["total"], 150, "{}", list["total"]);
    let stored: Vec<&str> = list["records"].as_array().unwrap()[1..]
        .iter()
        .map(|r| r["reference_id"].as_str().unwrap())
        .collect();
    let sent: Vec<String> = (0..150)
        .filter(|&i| i != 100)
        .map(|i| format!("r{i}"))
        .collect();
    assert_eq!(stored, sent, "rows keep the batch order");

    let with_feedback = api.get_ok(&format!("/logs/{}", got[7])).await;
    assert_eq!(
        with_feedback["feedback"][0]["value"], "good",
        "{with_feedback}"
    );
    assert_eq!(
        api.get_ok(&format!("/logs/{}", got[8])).await["feedback"],
        json!([])
    );
    let child = api.get_ok(&format!("/logs/{}", got[120])).await;
    assert_eq!(child["parent_id"], parent.as_str());

    // The same batch again (an exporter's retry): the same ids, nothing new stored.
    let again = api.post_ok("/logs", &Value::Array(batch)).await;
    assert_eq!(ids(&again), got);
    assert_eq!(api.get_ok("/logs?project=batch").await["total"], 150);

    // A parent from this very batch (its 70th log) is refused: a 422 naming it, and none
    // of the batch's 80 logs stored.
    let mut own_parent: Vec<Value> = (0..80).map(|i| log(&format!("s{i}"))).collect();
    own_parent[70]["parent_reference_id"] = json!("s10");
    let (status, refused) = api.post("/logs", &Value::Array(own_parent)).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["detail"][0]["loc"],
        json!(["body", 70, "parent_reference_id"])
    );
    assert_eq!(api.get_ok("/logs?project=batch").await["total"], 150);

    // A reference id given in two sessions of the project within one batch, 70 logs apart:
    // a 409 naming the first one's session, and nothing of the batch stored.
    let mut two_sessions: Vec<Value> = (0..80).map(|i| log(&format!("t{i}"))).collect();
    two_sessions[3]["session_reference_id"] = json!("trace-a");
    two_sessions[73] = log("t3");
    two_sessions[73]["session_reference_id"] = json!("trace-b");
    let (status, clash) = api.post("/logs", &Value::Array(two_sessions)).await;
    assert_eq!(status, 409, "{clash}");
    assert!(
        clash["detail"]
            .as_str()
            .unwrap()
            .contains("reference_id 't3'"),
        "{clash}"
    );
    assert_eq!(api.get_ok("/logs?project=batch").await["total"], 150);
}
