//! Provider keys are never recorded: a key planted in every header that carries one, in
//! the `key=` query parameter, in the request body and even in the message text and in
//! the provider's error message never shows in any span attribute (read back from an
//! in-memory OpenTelemetry exporter), any log, or any `Debug` output.

use crate::harness::{adapters::*, endpoint::*, otel::*, provider::*};

const KEY: &str = "sk-PLANTED-0123456789abcdefXYZ";

fn planted(url: String) -> Req {
    let body = serde_json::json!({
        "model": "gpt-4o-mini",
        "api_key": KEY,
        "messages": [{"role": "user", "content": format!("my key is {KEY}")}],
        "contents": [{"role": "user", "parts": [{"text": format!("my key is {KEY}")}]}],
    });
    Req::post(url, body.to_string())
        .header("authorization", &format!("Bearer {KEY}"))
        .header("x-api-key", KEY)
        .header("api-key", KEY)
        .header("x-goog-api-key", KEY)
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "the key leaked into {what}: {text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_planted_key_is_never_recorded() {
    let server = provider().await;
    let echo_body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let echo = serve_bytes(
        401,
        vec![("content-type", "application/json")],
        echo_body.into(),
        16,
    )
    .await;
    let sink = Recorder::start().await;
    let mut expected_logs = 0;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b.capture_content(true).log_content(true));
        let requests = [
            planted(server.url("/v1/chat/completions"))
                .header("x-fixture", "openai/chat_basic.json"),
            planted(server.url(&format!(
                "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key={KEY}"
            )))
            .header("x-fixture", "gemini/stream_alt_sse.sse"),
            planted(format!("http://{echo}/v1/chat/completions?key={KEY}")),
        ];
        for req in requests {
            match adapter {
                Adapter::Reqwest => {
                    let client = reqwest_client(&hl);
                    assert_clean("the middleware's Debug", &format!("{client:?}"));
                    let mut b = client.post(&req.url).body(req.body.clone());
                    for (k, v) in &req.headers {
                        b = b.header(k, v);
                    }
                    // (reqwest's own `Response` Debug prints the URL, `key=` included:
                    // that is reqwest's, with or without this middleware.)
                    let resp = b.send().await.unwrap();
                    resp.bytes().await.unwrap();
                }
                Adapter::Tower => {
                    use http_body_util::BodyExt;
                    use tower::ServiceExt;
                    let svc = tower_client(&hl);
                    assert_clean("the service's Debug", &format!("{svc:?}"));
                    let resp = svc.oneshot(http_request(&req)).await.unwrap();
                    assert_clean("the response's Debug", &format!("{resp:?}"));
                    resp.into_body().collect().await.unwrap();
                }
            }
            expected_logs += 1;
        }
        assert_clean("Humanloop's Debug", &format!("{hl:?}"));
        assert_clean("Config's Debug", &format!("{:?}", hl.config()));
        assert_clean("the layer's Debug", &format!("{:?}", hl.layer()));
        assert_clean("the middleware's Debug", &format!("{:?}", hl.middleware()));

        let spans = otel.genai_spans();
        assert_eq!(spans.len(), 3, "{adapter:?}");
        for span in &spans {
            assert_clean("a span name", &span.name);
            for kv in &span.attributes {
                assert_clean(kv.key.as_str(), &format!("{:?} {}", kv.value, kv.value));
            }
            for event in span.events.iter() {
                assert_clean("a span event", &format!("{event:?}"));
            }
        }
        // Content was captured, so the check above had something to find.
        assert!(spans
            .iter()
            .any(|s| attrs(s).contains_key("gen_ai.input.messages")));

        let logs = flushed_logs(&hl, &sink, expected_logs).await;
        assert_eq!(logs.len(), expected_logs);
        for log in &logs {
            assert_clean("a log", &log.to_string());
        }
        assert!(logs.iter().any(|l| l["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid_api_key"))));
    }
}
