//! Every v4 route added for SDK users answers in the SDK's shape and does what it says,
//! checked over plain HTTP (the Python SDK suite, `sdk_compat`, checks the same with the
//! SDK itself): projects, deployments and deployed calls, feedback, sessions, log deletion,
//! `.prompt` files, inline-config calls, and 501 for what is out of scope.
#![cfg(feature = "server")]

use reqwest::Method;
use serde_json::json;

use crate::harness::server::Api;

#[tokio::test]
async fn projects_configs_and_deployments() {
    let api = Api::start().await;
    let p = api.post_ok("/projects", &json!({"name": "shop"})).await;
    for key in [
        "id",
        "name",
        "users",
        "data_count",
        "feedback_types",
        "team_id",
        "created_at",
        "updated_at",
    ] {
        assert!(p.get(key).is_some(), "ProjectResponse without {key}: {p}");
    }
    let pid = p["id"].as_str().unwrap().to_owned();
    let (s, _) = api.post("/projects", &json!({"name": "shop"})).await;
    assert_eq!(s, 409, "a taken name");

    let reg = api.post_ok("/model-configs",
        &json!({"project_id": pid, "model": "mock-1", "provider": "mock", "prompt_template": "Hi {{n}}"})).await;
    for key in [
        "project_id",
        "project_name",
        "created_at",
        "updated_at",
        "last_used",
    ] {
        assert!(
            reg.get(key).is_some(),
            "ProjectConfigResponse without {key}: {reg}"
        );
    }
    assert_eq!(reg["project_name"], "shop");
    assert_eq!(reg["config"]["type"], "model");
    let cid = reg["config"]["id"].as_str().unwrap().to_owned();
    let (_, again) = api.post("/model-configs",
        &json!({"project_id": pid, "model": "mock-1", "provider": "mock", "prompt_template": "Hi {{n}}", "type": "model"}),
    )
    .await;
    assert_eq!(
        again["config"]["id"],
        cid.as_str(),
        "one config for an identical registration"
    );

    // Nothing deployed yet: the latest config is active; a named environment is a 404.
    let (s, active) = api.get(&format!("/projects/{pid}/active-config")).await;
    assert_eq!(
        (s, active["config"]["id"].as_str()),
        (200, Some(cid.as_str()))
    );
    let (s, _) = api
        .get(&format!(
            "/projects/{pid}/active-config?environment=staging"
        ))
        .await;
    assert_eq!(s, 404);

    let (s, deployed) = api.send(Method::PATCH, &format!("/projects/{pid}/deploy-config"), Some(json!({"config_id": cid, "environments": [{"id": "env_staging", "name": "staging"}]})))
    .await;
    assert_eq!(s, 200, "{deployed}");
    assert_eq!(
        deployed,
        json!([{"project_id": pid, "project_name": "shop", "environment_id": "env_staging",
                "environment_name": "staging", "environment_tag": "other",
                "model_config_id": cid, "model_config_name": null}])
    );
    let out = api
        .post_ok(
            "/completion-deployed",
            &json!({"project": "shop", "environment": "staging", "inputs": {"n": "Ada"}}),
        )
        .await;
    assert!(
        out["data"][0]["output"].as_str().unwrap().contains("Ada"),
        "{out}"
    );
    let (_, log) = api
        .get(&format!("/logs/{}", out["data"][0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        log["config"]["id"],
        cid.as_str(),
        "a completion's log carries its config: {log}"
    );
    assert_eq!(log["config"]["model"], "mock-1");

    let (s, _) = api
        .send(
            Method::DELETE,
            &format!("/projects/{pid}/deployed-config/env_staging"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, left) = api.get(&format!("/projects/{pid}/deployed-configs")).await;
    assert_eq!(left, json!([]));

    let (s, renamed) = api
        .send(
            Method::PATCH,
            &format!("/projects/{pid}"),
            Some(json!({"name": "store", "active_config_id": cid})),
        )
        .await;
    assert_eq!(s, 200, "{renamed}");
    assert_eq!(renamed["name"], "store");
    assert_eq!(renamed["active_config"]["config"]["id"], cid.as_str());
    assert_eq!(renamed["data_count"], 1);

    let (_, list) = api
        .get("/projects?filter=STO&sort_by=name&order=desc")
        .await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["records"][0]["id"], pid.as_str());

    let (s, _) = api
        .send(Method::DELETE, &format!("/projects/{pid}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = api.get(&format!("/projects/{pid}")).await;
    assert_eq!(s, 404);
    let (s, _) = api.get(&format!("/model-configs/{cid}")).await;
    assert_eq!(s, 404, "a deleted project's configs go with it");
}

#[tokio::test]
async fn feedback_sessions_and_deletion() {
    let api = Api::start().await;
    let (_, session) = api.post("/sessions", &json!({})).await;
    let sid = session["id"].as_str().unwrap().to_owned();
    let logs = api
        .post_ok(
            "/logs",
            &json!([
                {"project": "fb", "session_id": sid, "reference_id": "a", "inputs": {"q": 1},
                 "config": {"model": "gpt-4o-mini"}, "output": "first",
                 "created_at": "2024-05-01T12:00:00+02:00"},
                {"project": "fb", "session_id": sid, "reference_id": "b",
                 "config": {"type": "tool", "name": "t"}, "output": "last"}
            ]),
        )
        .await;
    let a = logs[0]["id"].as_str().unwrap().to_owned();
    let b = logs[1]["id"].as_str().unwrap().to_owned();

    let (_, log) = api.get(&format!("/logs/{a}")).await;
    assert_eq!(
        log["created_at"], "2024-05-01T10:00:00.000000Z",
        "stored in UTC: {log}"
    );
    assert_eq!(
        log["config"]["type"], "model",
        "a config without a type is a model config"
    );
    assert!(log["config"]["id"].as_str().unwrap().starts_with("config_"));
    assert_eq!(log["evaluation_results"], json!([]));
    assert_eq!(log["observability_status"], "completed");
    assert!(log["updated_at"].is_string());
    let (_, again) = api.get(&format!("/logs/{a}")).await;
    assert_eq!(
        again["config"]["id"], log["config"]["id"],
        "an inline config keeps its id"
    );

    let one = api
        .post_ok(
            "/feedback",
            &json!({"type": "rating", "value": "good", "data_id": a}),
        )
        .await;
    assert!(one["id"].as_str().unwrap().starts_with("feedback_"));
    let (s, many) = api.post("/feedback",
        &json!([{"type": "comment", "value": "ok", "data_id": a}, {"type": "issue", "value": "x", "data_id": b}]),
    )
    .await;
    assert_eq!((s, many.as_array().map(Vec::len)), (200, Some(2)), "{many}");
    let (_, log) = api.get(&format!("/logs/{a}")).await;
    let kinds: Vec<&str> = log["feedback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rating", "comment"]);
    let (s, _) = api
        .post(
            "/feedback",
            &json!({"type": "rating", "value": 1, "data_id": "data_none"}),
        )
        .await;
    assert_eq!(s, 404);

    let (_, s1) = api.get(&format!("/sessions/{sid}")).await;
    assert_eq!(s1["datapoints_count"], 2, "{s1}");
    assert_eq!(s1["first_inputs"], json!({"q": 1}));
    assert_eq!(s1["last_output"], "last");
    assert_eq!(s1["projects"][0]["name"], "fb");
    assert_eq!(
        s1["datapoints"].as_array().unwrap().len(),
        2,
        "the tree stays under datapoints"
    );
    let pid = s1["projects"][0]["id"].as_str().unwrap();
    let (_, listed) = api.get(&format!("/sessions?project_id={pid}")).await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["records"][0]["id"], sid.as_str());

    // Filters as the SDK sends them.
    let (_, found) = api
        .get(&format!("/logs?project_id={pid}&search=FIRST"))
        .await;
    assert_eq!(found["total"], 1, "{found}");
    let (_, dated) = api
        .get(&format!(
            "/logs?project_id={pid}&start_date=2024-05-01&end_date=2024-05-01"
        ))
        .await;
    assert_eq!(dated["records"][0]["id"], a.as_str(), "{dated}");
    let (s, _) = api.get("/logs?start_date=soon").await;
    assert_eq!(s, 422);

    let (s, _) = api
        .send(Method::DELETE, &format!("/logs?id={a}&id={b}"), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = api.get(&format!("/logs/{a}")).await;
    assert_eq!(s, 404);
    let (s, _) = api
        .send(Method::DELETE, &format!("/logs?id={a}"), None)
        .await;
    assert_eq!(s, 404, "an unknown id");
}

#[tokio::test]
async fn inline_configs_chats_and_prompt_files() {
    let api = Api::start().await;
    let chat = api
        .post_ok(
            "/chat",
            &json!({"project": "c", "messages": [{"role": "user", "content": "primes?"}],
                "model_config": {"model": "mock-1", "provider": "mock",
                                 "chat_template": [{"role": "system", "content": "Be brief."}]}}),
        )
        .await;
    let item = &chat["data"][0];
    assert_eq!(item["output_message"]["role"], "assistant");
    assert_eq!(item["output_message"]["content"], item["output"]);
    let (_, log) = api
        .get(&format!("/logs/{}", item["id"].as_str().unwrap()))
        .await;
    let roles: Vec<&str> = log["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user"],
        "the template, then the caller's messages: {log}"
    );

    let text = api.post_ok("/model-configs/serialize",
        &json!({"model": "m", "temperature": 0.2, "chat_template": [{"role": "user", "content": "Hi {{x}}"}]})).await;
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("<user>\nHi {{x}}\n</user>"), "{text}");
    let back = api
        .post_ok("/model-configs/deserialize", &json!({"config": text}))
        .await;
    assert_eq!(
        (back["type"].as_str(), back["model"].as_str()),
        (Some("model"), Some("m"))
    );
    assert_eq!(back["chat_template"][0]["content"], "Hi {{x}}");
    let (s, _) = api
        .post(
            "/model-configs/deserialize",
            &json!({"config": "no front matter"}),
        )
        .await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn datasets_evaluations_and_evaluators_answer_501() {
    let api = Api::start().await;
    for (method, path) in [
        (Method::GET, "/datasets"),
        (Method::POST, "/projects/pr_1/datasets"),
        (Method::GET, "/datasets/ds_1/datapoints"),
        (Method::PATCH, "/datapoints/dp_1"),
        (Method::GET, "/evaluations/ev_1"),
        (Method::POST, "/projects/pr_1/evaluations"),
        (Method::DELETE, "/evaluators/e_1"),
    ] {
        let (s, body) = api.send(method.clone(), path, None).await;
        assert_eq!(s, 501, "{method} {path}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("not implemented"),
            "{body}"
        );
    }
    let (s, _) = api.get("/no-such-route").await;
    assert_eq!(s, 404, "other unknown routes stay 404");
}
