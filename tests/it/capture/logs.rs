//! Each finished call becomes one log (SPEC.md `POST /logs`): messages, output, model
//! config, tokens, cost, timing, ids, and the project settings of the configuration.

use crate::harness::{adapters::*, endpoint::*, otel::*, provider::*};

const REQUEST: &str = r#"{"model":"gpt-4o-mini","temperature":0.5,"max_tokens":100,"stop":["END"],
    "api_key":"sk-in-body-should-vanish",
    "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello!"}]}"#;

async fn one_call(adapter: Adapter, hl: &humanloop_tracing::Humanloop, server: &Provider) {
    let req = Req::post(server.url("/v1/chat/completions"), REQUEST)
        .header("x-fixture", "openai/chat_basic.json");
    let got = send(adapter, hl, req).await;
    assert_eq!(got.status, 200);
}

/// The one log of one chat call through `adapter`, with the configuration `configure` makes.
async fn logged_once(
    adapter: Adapter,
    configure: impl FnOnce(humanloop_tracing::ConfigBuilder) -> humanloop_tracing::ConfigBuilder,
) -> serde_json::Value {
    let server = provider().await;
    let _otel = otel();
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, configure);
    one_call(adapter, &hl, &server).await;
    let mut logs = flushed_logs(&hl, &sink, 1).await;
    logs.swap_remove(0)
}

#[tokio::test(flavor = "current_thread")]
async fn a_call_becomes_a_complete_log() {
    let server = provider().await;
    for adapter in ADAPTERS {
        let _otel = otel();
        let sink = Recorder::start().await;
        let hl = humanloop(&sink, |b| {
            b.source("tests").environment("ci").metadata("team", "core")
        });
        one_call(adapter, &hl, &server).await;
        let logs = flushed_logs(&hl, &sink, 1).await;
        assert_eq!(logs.len(), 1, "{adapter:?}");
        let log = &logs[0];
        println!("{log:#}");
        assert_eq!(log["project"], "capture-tests");
        assert_eq!(log["source"], "tests");
        assert_eq!(log["environment"], "ci");
        assert_eq!(log["metadata"]["team"], "core");
        assert_eq!(log["save"], true);
        assert_hello_chat(log);
        assert_eq!(log["output_message"]["role"], "assistant");
        assert_eq!(log["output_message"]["content"], CHAT_ANSWER);
        let config = &log["config"];
        assert_eq!(config["type"], "model");
        assert_eq!(config["model"], "gpt-4o-mini");
        assert_eq!(config["provider"], "openai");
        assert_eq!(config["endpoint"], "chat");
        assert_eq!(config["temperature"], 0.5);
        assert_eq!(config["max_tokens"], 100);
        assert_eq!(config["stop"], "END");
        assert_eq!(log["prompt_tokens"], 9);
        assert_eq!(log["output_tokens"], 12);
        // gpt-4o-mini: $0.15 / $0.60 per million tokens.
        assert!((log["prompt_cost"].as_f64().unwrap() - 9.0 * 0.15 / 1e6).abs() < 1e-12);
        assert!((log["output_cost"].as_f64().unwrap() - 12.0 * 0.60 / 1e6).abs() < 1e-12);
        assert!(log["duration"].as_f64().unwrap() > 0.0);
        let created = log["created_at"].as_str().unwrap();
        humantime::parse_rfc3339(created).unwrap();
        assert!(!log["reference_id"].as_str().unwrap().is_empty());
        assert!(log.get("error").is_none());
        assert_eq!(log["provider_request"]["model"], "gpt-4o-mini");
        assert_eq!(log["provider_request"]["api_key"], "[REDACTED]");
        assert_eq!(log["provider_response"]["id"], "chatcmpl-123");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn log_content_off_keeps_numbers_and_drops_content() {
    let log = &logged_once(Adapter::Reqwest, |b| b.log_content(false)).await;
    for key in [
        "messages",
        "output",
        "output_message",
        "provider_request",
        "provider_response",
    ] {
        assert!(log.get(key).is_none(), "{key} in {log:#}");
    }
    assert_eq!(log["prompt_tokens"], 9);
    assert_eq!(log["config"]["model"], "gpt-4o-mini");
}

#[tokio::test(flavor = "current_thread")]
async fn redaction_and_on_log_shape_the_log() {
    let log = &logged_once(Adapter::Tower, |b| {
        b.redact(|t: &mut String| *t = t.replace("Hello", "[greeting]"))
            .on_log(|log| {
                log.metadata
                    .get_or_insert_with(Default::default)
                    .insert("seen".into(), true.into());
                log.output.as_deref() != Some("drop me")
            })
    })
    .await;
    assert_eq!(log["messages"][1]["content"], "[greeting]!");
    assert_eq!(
        log["output"],
        "\n\n[greeting] there, how may I assist you today?"
    );
    assert_eq!(
        log["provider_request"]["messages"][1]["content"],
        "[greeting]!"
    );
    assert_eq!(log["metadata"]["seen"], true);
}

#[tokio::test(flavor = "current_thread")]
async fn a_panicking_on_log_hook_drops_the_log_and_never_reaches_the_caller() {
    let server = provider().await;
    let _otel = otel();
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b.on_log(|_| panic!("hook bug")));
    let before = humanloop_tracing::hook_panics();
    one_call(Adapter::Reqwest, &hl, &server).await;
    let _ = hl.flush(std::time::Duration::from_secs(5)).await;
    assert!(sink.bodies().is_empty());
    assert!(humanloop_tracing::hook_panics() > before);
}

#[tokio::test(flavor = "current_thread")]
async fn an_error_call_is_logged_with_its_error() {
    let server = provider().await;
    let _otel = otel();
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| b);
    let req = Req::post(server.url("/v1/chat/completions"), REQUEST)
        .header("x-fixture", "openai/error_invalid_api_key.json")
        .header("x-status", "401");
    send(Adapter::Reqwest, &hl, req).await;
    let logs = flushed_logs(&hl, &sink, 1).await;
    let error = logs[0]["error"].as_str().unwrap();
    assert!(
        error.contains("401") && error.contains("invalid_api_key"),
        "{error}"
    );
    assert_eq!(
        logs[0]["provider_response"]["error"]["code"],
        "invalid_api_key"
    );
}

/// A provider body goes into the log as the provider wrote it when nothing in it needs
/// cleaning (it is not parsed and written out again); when it holds the call's key, in
/// the clear or spelled with `\u` escapes, it is parsed and the key scrubbed.
#[tokio::test(flavor = "current_thread")]
async fn provider_bodies_are_sent_as_written_unless_they_hold_a_secret() {
    const KEY: &str = "sk-live-abcdef0123456789";
    let server = provider().await;
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/openai/chat_basic.json")).unwrap();
    // Spaced as no serialiser writes it: only the body as written keeps the spacing.
    let clean = r#"{"model": "gpt-4o-mini",  "messages": [{"role": "user", "content": "Hello!"}]}"#;
    let quoted = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"my key is {KEY}"}}]}}"#
    );
    // The key's last character as an escape: the bytes do not contain the key.
    let escaped = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"my key is {}\u0039"}}]}}"#,
        &KEY[..KEY.len() - 1]
    );
    for adapter in ADAPTERS {
        for body in [clean, quoted.as_str(), escaped.as_str()] {
            let _otel = otel();
            let sink = Recorder::start().await;
            let hl = humanloop(&sink, |b| b);
            let req = Req::post(server.url("/v1/chat/completions"), body.to_owned())
                .header("x-fixture", "openai/chat_basic.json")
                .header("authorization", &format!("Bearer {KEY}"));
            assert_eq!(send(adapter, &hl, req).await.status, 200);
            let log = flushed_logs(&hl, &sink, 1).await.swap_remove(0);
            assert_eq!(log["provider_response"], fixture, "{adapter:?}");
            assert!(!log.to_string().contains(KEY), "{adapter:?}: {log}");
            if body == clean {
                let sent: serde_json::Value = serde_json::from_str(clean).unwrap();
                assert_eq!(log["provider_request"], sent, "{adapter:?}");
                let wire = &sink.posts()[0].text;
                assert!(wire.contains(clean), "{adapter:?}: not as written: {wire}");
            } else {
                let content = &log["provider_request"]["messages"][0]["content"];
                assert_eq!(content, "my key is [REDACTED]", "{adapter:?}: {body}");
            }
        }
    }
}
