//! Every provider fixture through both adapters against a provider server on 127.0.0.1:
//! the caller receives exactly the bytes the server sent, and the call becomes one
//! client span with the GenAI attributes the fixture implies.

use crate::harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};
use opentelemetry::trace::SpanKind;
use opentelemetry::Value;

struct Case {
    fixture: &'static str,
    path: &'static str,
    request: &'static str,
    status: u16,
    name: &'static str,
    expect: Vec<(&'static str, Value)>,
    streaming: bool,
}

fn cases(port: u16) -> Vec<Case> {
    let port = i(port.into());
    let common = |op: &str, provider: &str, model: &str| {
        vec![
            ("gen_ai.operation.name", s(op)),
            ("gen_ai.provider.name", s(provider)),
            ("gen_ai.request.model", s(model)),
            ("server.address", s("127.0.0.1")),
            ("server.port", port.clone()),
        ]
    };
    let with = |mut base: Vec<(&'static str, Value)>, more: Vec<(&'static str, Value)>| {
        base.extend(more);
        base
    };
    vec![
        Case {
            fixture: "openai/chat_basic.json",
            path: "/v1/chat/completions",
            request: r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}],
                        "temperature":0.5,"top_p":0.9,"max_tokens":100,"seed":7,"n":1,
                        "frequency_penalty":0.1,"presence_penalty":0.2,"stop":["\n\n"]}"#,
            status: 200,
            name: "chat gpt-4o-mini",
            expect: with(
                common("chat", "openai", "gpt-4o-mini"),
                vec![
                    ("gen_ai.request.temperature", Value::F64(0.5)),
                    ("gen_ai.request.top_p", Value::F64(0.9)),
                    ("gen_ai.request.max_tokens", i(100)),
                    ("gen_ai.request.seed", i(7)),
                    ("gen_ai.request.frequency_penalty", Value::F64(0.1)),
                    ("gen_ai.request.presence_penalty", Value::F64(0.2)),
                    ("gen_ai.request.stop_sequences", strings(&["\n\n"])),
                    ("gen_ai.response.id", s("chatcmpl-123")),
                    ("gen_ai.response.model", s("gpt-4o-mini")),
                    ("gen_ai.response.finish_reasons", strings(&["stop"])),
                    ("gen_ai.usage.input_tokens", i(9)),
                    ("gen_ai.usage.output_tokens", i(12)),
                ],
            ),
            streaming: false,
        },
        Case {
            fixture: "openai/chat_stream_include_usage.sse",
            path: "/v1/chat/completions",
            request: r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}],
                        "stream":true,"stream_options":{"include_usage":true},"n":2}"#,
            status: 200,
            name: "chat gpt-4o-mini",
            expect: with(
                common("chat", "openai", "gpt-4o-mini"),
                vec![
                    ("gen_ai.request.stream", Value::Bool(true)),
                    ("gen_ai.request.choice.count", i(2)),
                    ("gen_ai.response.id", s("chatcmpl-123")),
                    ("gen_ai.response.finish_reasons", strings(&["stop"])),
                    ("gen_ai.usage.input_tokens", i(9)),
                    ("gen_ai.usage.output_tokens", i(5)),
                ],
            ),
            streaming: true,
        },
        Case {
            fixture: "openai/error_invalid_api_key.json",
            path: "/v1/chat/completions",
            request: r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}"#,
            status: 401,
            name: "chat gpt-4o-mini",
            expect: with(
                common("chat", "openai", "gpt-4o-mini"),
                vec![("error.type", s("invalid_api_key"))],
            ),
            streaming: false,
        },
        Case {
            fixture: "anthropic/message_basic.json",
            path: "/v1/messages",
            request: r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"top_k":5,
                        "messages":[{"role":"user","content":"Hello, Claude"}]}"#,
            status: 200,
            name: "chat claude-sonnet-4-5",
            expect: with(
                common("chat", "anthropic", "claude-sonnet-4-5"),
                vec![
                    ("gen_ai.request.max_tokens", i(1024)),
                    ("gen_ai.request.top_k", Value::F64(5.0)),
                    ("gen_ai.response.id", s("msg_013Zva2CMHLNnXjNJJKqJ2EF")),
                    ("gen_ai.response.model", s("claude-sonnet-4-5-20250929")),
                    ("gen_ai.response.finish_reasons", strings(&["end_turn"])),
                    ("gen_ai.usage.input_tokens", i(2095)),
                    ("gen_ai.usage.output_tokens", i(503)),
                ],
            ),
            streaming: false,
        },
        Case {
            fixture: "anthropic/stream_basic.sse",
            path: "/v1/messages",
            request: r#"{"model":"claude-opus-4-1","max_tokens":256,"stream":true,
                        "messages":[{"role":"user","content":"Hello"}]}"#,
            status: 200,
            name: "chat claude-opus-4-1",
            expect: with(
                common("chat", "anthropic", "claude-opus-4-1"),
                vec![
                    ("gen_ai.request.stream", Value::Bool(true)),
                    (
                        "gen_ai.response.id",
                        s("msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"),
                    ),
                    ("gen_ai.response.model", s("claude-opus-4-1-20250805")),
                    ("gen_ai.response.finish_reasons", strings(&["end_turn"])),
                    ("gen_ai.usage.input_tokens", i(25)),
                    ("gen_ai.usage.output_tokens", i(15)),
                ],
            ),
            streaming: true,
        },
        Case {
            fixture: "anthropic/stream_error.sse",
            path: "/v1/messages",
            request: r#"{"model":"claude-opus-4-1","max_tokens":256,"stream":true,
                        "messages":[{"role":"user","content":"Hello"}]}"#,
            status: 200,
            name: "chat claude-opus-4-1",
            expect: with(
                common("chat", "anthropic", "claude-opus-4-1"),
                vec![("error.type", s("overloaded_error"))],
            ),
            streaming: true,
        },
        Case {
            fixture: "gemini/generate_basic.json",
            path: "/v1beta/models/gemini-2.0-flash:generateContent",
            request: r#"{"contents":[{"role":"user","parts":[{"text":"Explain how AI works in a few words"}]}],
                        "generationConfig":{"temperature":0.2,"candidateCount":1}}"#,
            status: 200,
            name: "generate_content gemini-2.0-flash",
            expect: with(
                common("generate_content", "gcp.gemini", "gemini-2.0-flash"),
                vec![
                    ("gen_ai.request.temperature", Value::F64(0.2)),
                    ("gen_ai.response.id", s("Aq9SaJ3lOYqRjMcP0ezwqQE")),
                    ("gen_ai.response.model", s("gemini-2.0-flash")),
                    ("gen_ai.usage.input_tokens", i(8)),
                    ("gen_ai.usage.output_tokens", i(17)),
                ],
            ),
            streaming: false,
        },
        Case {
            fixture: "gemini/stream_alt_sse.sse",
            path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
            request: r#"{"contents":[{"role":"user","parts":[{"text":"Write a story"}]}]}"#,
            status: 200,
            name: "generate_content gemini-2.0-flash",
            expect: with(
                common("generate_content", "gcp.gemini", "gemini-2.0-flash"),
                vec![
                    ("gen_ai.request.stream", Value::Bool(true)),
                    ("gen_ai.response.id", s("mQ9SaLm3OoL2xN8P4s2u8Qk")),
                    ("gen_ai.usage.input_tokens", i(9)),
                    ("gen_ai.usage.output_tokens", i(18)),
                ],
            ),
            streaming: true,
        },
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn fixtures_pass_through_unchanged_and_become_genai_spans() {
    let server = provider().await;
    let sink = Recorder::start().await;
    let port = server.addr.unwrap().port();
    for adapter in ADAPTERS {
        for case in cases(port) {
            let otel = otel();
            let hl = humanloop(&sink, |b| b);
            let req = Req::post(server.url(case.path), case.request)
                .header("x-fixture", case.fixture)
                .header("x-status", &case.status.to_string())
                .header("x-chunk", "37");
            let got = send(adapter, &hl, req).await;
            let ctx = format!("{adapter:?} {}", case.fixture);
            assert_eq!(got.status, case.status, "{ctx}");
            assert_eq!(got.body, fixture(case.fixture), "{ctx}: bytes changed");

            let span = otel.genai_span();
            assert_eq!(span.name, case.name, "{ctx}");
            assert_eq!(span.span_kind, SpanKind::Client, "{ctx}");
            let a = attrs(&span);
            for (key, want) in &case.expect {
                assert_eq!(a.get(*key), Some(want), "{ctx}: {key} in {a:#?}");
            }
            assert_eq!(is_error(&span), a.contains_key("error.type"), "{ctx}");
            assert_eq!(
                is_error(&span),
                case.status >= 400 || case.fixture.contains("error"),
                "{ctx}"
            );
            let ttfc = a.get("gen_ai.response.time_to_first_chunk");
            if case.streaming {
                assert!(
                    matches!(ttfc, Some(Value::F64(t)) if *t >= 0.0),
                    "{ctx}: {ttfc:?}"
                );
            } else {
                assert!(ttfc.is_none(), "{ctx}");
            }
            assert!(!a.contains_key("gen_ai.request.choice.count") || case.streaming);
            // Content is off by default on spans.
            for key in [
                "gen_ai.input.messages",
                "gen_ai.output.messages",
                "gen_ai.system_instructions",
            ] {
                assert!(!a.contains_key(key), "{ctx}: {key}");
            }
        }
    }
}

/// The path, request body and operation a fixture answers.
fn route(dir: &str, file: &str) -> (String, String, &'static str) {
    let sse = file.ends_with(".sse");
    let chat = |model: &str| format!(r#"{{"model":"{model}","stream":{sse},"messages":[]}}"#);
    match dir {
        "anthropic" => ("/v1/messages".into(), chat("claude-3-5-haiku"), "chat"),
        "gemini" if sse => (
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse".into(),
            r#"{"contents":[]}"#.into(),
            "generate_content",
        ),
        "gemini" => (
            "/v1beta/models/gemini-2.5-flash:generateContent".into(),
            r#"{"contents":[]}"#.into(),
            "generate_content",
        ),
        "azure" => (
            "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21".into(),
            format!(r#"{{"stream":{sse},"messages":[]}}"#),
            "chat",
        ),
        _ if file.starts_with("completions") => (
            "/v1/completions".into(),
            format!(r#"{{"model":"gpt-3.5-turbo-instruct","stream":{sse},"prompt":"Say"}}"#),
            "text_completion",
        ),
        _ if file.starts_with("embeddings") => (
            "/v1/embeddings".into(),
            r#"{"model":"text-embedding-3-small","input":"hi"}"#.into(),
            "embeddings",
        ),
        _ if file.starts_with("responses") => (
            "/v1/responses".into(),
            format!(r#"{{"model":"gpt-4.1","stream":{sse},"input":"hi"}}"#),
            "chat",
        ),
        _ => ("/v1/chat/completions".into(), chat("gpt-4o"), "chat"),
    }
}

/// The whole fixture directory, whatever it holds: bytes unchanged, one span with the
/// right operation, nothing panics.
#[tokio::test(flavor = "current_thread")]
async fn every_fixture_file_passes_through_both_adapters() {
    let server = provider().await;
    let sink = Recorder::start().await;
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|d| d != "tls")
        .collect();
    dirs.sort();
    for provider_dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(format!("{dir}/{provider_dir}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| !f.contains("request") && (f.ends_with(".json") || f.ends_with(".sse")))
            .collect();
        files.sort();
        for file in files {
            let name = format!("{provider_dir}/{file}");
            let (path, body, op) = route(&provider_dir, &file);
            let status = if file.contains("error") && file.ends_with(".json") {
                "400"
            } else {
                "200"
            };
            for adapter in ADAPTERS {
                let otel = otel();
                let hl = humanloop(&sink, |b| b);
                let req = Req::post(server.url(&path), body.clone())
                    .header("x-fixture", &name)
                    .header("x-status", status)
                    .header("x-chunk", "5");
                let got = send(adapter, &hl, req).await;
                assert_eq!(got.body, fixture(&name), "{adapter:?} {name}");
                let span = otel.genai_span();
                let a = attrs(&span);
                assert_eq!(a.get("gen_ai.operation.name"), Some(&s(op)), "{name}");
                assert_eq!(
                    is_error(&span),
                    status == "400" || a.contains_key("error.type")
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 40, "only {seen} fixture runs");
}

#[tokio::test(flavor = "current_thread")]
async fn non_llm_requests_pass_through_without_a_span() {
    let server = provider().await;
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b);
        let got = send(adapter, &hl, Req::post(server.url("/v1/users"), "{}")).await;
        assert_eq!(got.body, "not an LLM");
        assert!(otel.spans().is_empty(), "{adapter:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn disabled_config_means_no_span() {
    let server = provider().await;
    let sink = Recorder::start().await;
    for adapter in ADAPTERS {
        let otel = otel();
        let hl = humanloop(&sink, |b| b.enabled(false));
        let req = Req::post(server.url("/v1/chat/completions"), r#"{"model":"gpt-4o"}"#)
            .header("x-fixture", "openai/chat_basic.json");
        let got = send(adapter, &hl, req).await;
        assert_eq!(got.body, fixture("openai/chat_basic.json"));
        assert!(otel.spans().is_empty(), "{adapter:?}");
        assert!(
            server
                .requests
                .lock()
                .unwrap()
                .iter()
                .all(|(_, h, _)| !h.contains_key("traceparent")),
            "a disabled layer must not touch the request"
        );
    }
}

/// The reqwest response the middleware hands back is the same response: URL, status,
/// headers, content length.
#[tokio::test(flavor = "current_thread")]
async fn the_reqwest_response_keeps_its_url_and_head() {
    let server = provider().await;
    let sink = Recorder::start().await;
    let _otel = otel();
    let hl = humanloop(&sink, |b| b);
    let url = server.url("/v1/chat/completions?api-version=1");
    let resp = reqwest_client(&hl)
        .post(&url)
        .header("x-fixture", "openai/chat_basic.json")
        .header("x-chunk", "100000")
        .body(r#"{"model":"gpt-4o"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().as_str(), url);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.remote_addr().is_some());
    let body = resp.bytes().await.unwrap();
    assert_eq!(body, fixture("openai/chat_basic.json"));
}
