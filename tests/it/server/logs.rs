//! `POST/PATCH/GET /logs` and sessions: parents by reference id, the hierarchy rule,
//! idempotent retries, PATCH by reference, the session tree.
#![cfg(feature = "server")]

use crate::harness::server::Api;
use serde_json::{json, Value};

fn step(name: &str) -> Value {
    json!({"type": "tool", "name": name})
}

#[tokio::test]
async fn parents_by_reference_build_the_session_tree() {
    let api = Api::start().await;

    let root = api
        .post_ok(
            "/logs",
            &json!({
                "project": "agents", "session_reference_id": "trace-1", "reference_id": "root",
                "config": step("agent"), "inputs": {"q": "hi"}
            }),
        )
        .await;
    let root_id = root["id"].as_str().unwrap().to_owned();
    assert!(root_id.starts_with("data_"));
    assert!(root["project_id"].as_str().unwrap().starts_with("pr_"));
    let session = root["session_id"].as_str().unwrap().to_owned();
    assert!(session.starts_with("sesh_"));

    // Two children in one later request (an array), then a grandchild.
    let kids = api.post_ok("/logs", &json!([
        {"project": "agents", "session_reference_id": "trace-1", "parent_reference_id": "root",
         "reference_id": "tool-a", "config": step("search"), "output": "found"},
        {"project": "agents", "session_reference_id": "trace-1", "parent_reference_id": "root",
         "config": {"type": "model", "model": "gpt-4o", "provider": "openai"}, "output": "answer"}
    ])).await;
    let kids = kids.as_array().expect("array answer mirrors an array body");
    assert_eq!(kids.len(), 2);
    assert!(kids.iter().all(|k| k["session_id"] == session.as_str()));
    let grandchild = api.post_ok("/logs", &json!({
        "session_reference_id": "trace-1", "parent_reference_id": "tool-a", "config": step("fetch")
    })).await;

    let log = api
        .get_ok(&format!("/logs/{}", kids[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(log["parent_id"], root_id.as_str());
    assert_eq!(log["output"], "found");

    let tree = api.get_ok(&format!("/sessions/{session}")).await;
    assert_eq!(tree["reference_id"], "trace-1");
    let roots = tree["datapoints"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "{tree}");
    assert_eq!(roots[0]["id"], root_id.as_str());
    let children = roots[0]["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["id"], kids[0]["id"]);
    assert_eq!(children[1]["id"], kids[1]["id"]);
    assert_eq!(children[0]["children"][0]["id"], grandchild["id"]);
    assert_eq!(children[1]["children"], json!([]));
}

#[tokio::test]
async fn unknown_parent_reference_is_a_422_that_names_it() {
    let api = Api::start().await;
    let (s, body) = api
        .post(
            "/logs",
            &json!({
                "session_reference_id": "trace-2", "parent_reference_id": "nobody-logged-me",
                "config": step("x")
            }),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let d = &body["detail"][0];
    assert_eq!(d["loc"], json!(["body", "parent_reference_id"]));
    assert!(
        d["msg"].as_str().unwrap().contains("nobody-logged-me"),
        "{d}"
    );

    // Nothing of a rejected batch is stored, and a parent in the same request does not count.
    let (s, body) = api.post("/logs",
        &json!([
            {"session_reference_id": "trace-2", "reference_id": "p", "config": step("parent")},
            {"session_reference_id": "trace-2", "parent_reference_id": "p", "config": step("child")}
        ]),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", 1, "parent_reference_id"])
    );
    let (_, list) = api.get("/logs?session_reference_id=trace-2").await;
    assert_eq!(list["total"], 0, "{list}");
}

#[tokio::test]
async fn retries_with_the_same_reference_id_do_not_duplicate() {
    let api = Api::start().await;
    let log = json!({"project": "p", "session_reference_id": "trace-3", "reference_id": "step-1",
                     "config": step("s"), "output": "first"});
    let (s1, a) = api.post("/logs", &log).await;
    let (s2, b) = api.post("/logs", &log).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(a["id"], b["id"]);
    let (_, list) = api.get("/logs?session_reference_id=trace-3").await;
    assert_eq!(list["total"], 1, "{list}");

    // A reference id names one datapoint per project (so `PATCH /logs?reference_id=`, which
    // names no session, finds it): reused in another session of the project it is a 409 and
    // nothing is stored; in another project it is another datapoint.
    let other = json!({"project": "p", "session_reference_id": "trace-4", "reference_id": "step-1",
                       "config": step("s")});
    let (s, c) = api.post("/logs", &other).await;
    assert_eq!(s, 409, "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains(a["id"].as_str().unwrap()),
        "{c}"
    );
    let (_, list) = api.get("/logs?project=p").await;
    assert_eq!(list["total"], 1, "{list}");
    let elsewhere = json!({"project": "q", "session_reference_id": "trace-4", "reference_id": "step-1",
                           "config": step("s")});
    let d = api.post_ok("/logs", &elsewhere).await;
    assert_ne!(d["id"], a["id"]);
}

#[tokio::test]
async fn patch_by_reference_completes_a_step() {
    let api = Api::start().await;
    let (http, base) = (api.http.clone(), api.base.clone());
    let (_, created) = api.post("/logs",
        &json!({
            "session_reference_id": "trace-5", "reference_id": "open-step", "config": step("agent")
        }),
    )
    .await;
    let resp = http
        .patch(format!("{base}/logs?reference_id=open-step"))
        .json(&json!({"output": "done", "duration": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(patched["id"], created["id"]);
    assert_eq!(patched["output"], "done");
    assert_eq!(patched["duration"], 1.5);

    let (_, log) = api
        .get(&format!("/logs/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(log["output"], "done");

    // By id, too; and an unknown reference is a 404 with a detail.
    let resp = http
        .patch(format!("{base}/logs/{}", created["id"].as_str().unwrap()))
        .json(&json!({"error": "boom"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .patch(format!("{base}/logs?reference_id=never"))
        .json(&json!({"output": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("never"));
}

#[tokio::test]
async fn explicit_sessions_and_filters() {
    let api = Api::start().await;
    let (http, base) = (api.http.clone(), api.base.clone());
    let resp = http.post(format!("{base}/sessions")).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let session: Value = resp.json().await.unwrap();
    let sid = session["id"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("sesh_"));

    let a = api
        .post_ok(
            "/logs",
            &json!({"session_id": sid, "project": "one", "config": step("a")}),
        )
        .await;
    assert_eq!(a["session_id"], sid.as_str());
    let _ = api
        .post_ok("/logs", &json!({"project": "two", "config": step("b")}))
        .await;

    let (_, by_session) = api.get(&format!("/logs?session_id={sid}")).await;
    assert_eq!(by_session["total"], 1);
    assert_eq!(by_session["records"][0]["id"], a["id"]);
    let (_, by_project) = api
        .get(&format!(
            "/logs?project_id={}",
            a["project_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_project["total"], 1);
    let (_, all) = api.get("/logs").await;
    assert_eq!(all["total"], 2);

    // An unknown session id is a 422 naming the field.
    let (s, body) = api
        .post(
            "/logs",
            &json!({"session_id": "sesh_nope", "config": step("c")}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "session_id"]));
    let (s, _) = api.get("/sessions/sesh_nope").await;
    assert_eq!(s, 404);
}
