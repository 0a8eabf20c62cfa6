//! Both convention profiles, read back from real spans: every attribute the crate emits
//! under a profile is a name `semconv::TABLE` lists for that profile, and the names and
//! rules that differ do differ (cache-write usage, `top_k`'s type, finish reasons of a
//! stream cut off early, `gen_ai.conversation.id` only for a named session under v0.1).

#[path = "it/harness/mod.rs"]
mod harness;

use std::collections::HashMap;

use harness::{adapters::*, endpoint::*, fixtures::*, otel::*, provider::*};
use humanloop_tracing::semconv::{self, Kind, Profile, TABLE};
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use tracing::Instrument;

const CHAT: &str =
    r#"{"model":"gpt-4o-mini","top_k":40,"messages":[{"role":"user","content":"Hi"}]}"#;
const STREAM: &str =
    r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}"#;

/// Attributes the crate does not own (tracing-opentelemetry's, the hierarchy's own
/// `humanloop.*` fields), left out of the check.
fn foreign(key: &str) -> bool {
    key.starts_with("code.")
        || key.starts_with("thread.")
        || matches!(key, "busy_ns" | "idle_ns" | "target")
        || key.starts_with("humanloop.") && key != semconv::HUMANLOOP_OUTPUT_TRUNCATED
}

fn table_names(profile: Profile, kind: Kind) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|n| n.kind == kind)
        .filter_map(|n| profile.name(n))
        .collect()
}

/// Run the same calls under `profile`: an Anthropic call with cache usage inside a named
/// session, an OpenAI chat with `top_k` outside any session, and a stream the caller drops
/// after two chunks.
async fn spans_under(profile: Profile) -> Vec<SpanData> {
    let sink = Recorder::start().await;
    let server = provider().await;
    let hl = humanloop(&sink, |b| b.semconv_profile(profile).capture_content(true));
    let otel = otel_with_hierarchy(&hl);
    async {
        send(
            Adapter::Reqwest,
            &hl,
            Req::post(
                server.url("/v1/messages"),
                r#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Themes?"}]}"#,
            )
            .header("x-fixture", "anthropic/message_cache_usage.json"),
        )
        .await;
    }
    .instrument(humanloop_tracing::session("named-session"))
    .await;
    send(
        Adapter::Reqwest,
        &hl,
        Req::post(server.url("/v1/chat/completions"), CHAT)
            .header("x-fixture", "openai/chat_basic.json"),
    )
    .await;

    let chunks = sse_chunks("openai/chat_stream_include_usage.sse");
    let streamer = stream_server("text/event-stream").await;
    let url = format!("http://{}/v1/chat/completions", streamer.addr);
    streamer.chunks.send(chunks[0].clone()).await.unwrap();
    streamer.chunks.send(chunks[1].clone()).await.unwrap();
    let (_, mut stream) = open(Adapter::Tower, &hl, Req::post(url, STREAM)).await;
    stream.read_exact(chunks[0].len() + chunks[1].len()).await;
    drop(stream);
    let _keep_open = streamer.chunks;
    otel.spans()
}

fn by_model(spans: &[SpanData]) -> HashMap<String, HashMap<String, Value>> {
    spans
        .iter()
        .filter_map(|s| {
            let a = attrs(s);
            let key = match a.get("gen_ai.request.stream") {
                Some(_) => "stream".to_owned(),
                None => a.get("gen_ai.request.model")?.as_str().into_owned(),
            };
            Some((key, a))
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn every_emitted_attribute_is_in_the_table_under_each_profile() {
    for profile in [Profile::V1_41, Profile::GenAiV0_1] {
        let spans = spans_under(profile).await;
        let allowed = table_names(profile, Kind::Attribute);
        let mut seen = 0;
        for span in &spans {
            for kv in &span.attributes {
                let key = kv.key.as_str();
                if foreign(key) {
                    continue;
                }
                seen += 1;
                assert!(
                    allowed.contains(&key),
                    "{profile:?}: `{key}` on span {} is not in semconv::TABLE for this profile",
                    span.name
                );
            }
        }
        assert!(
            seen > 30,
            "{profile:?}: too few attributes checked ({seen})"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_profiles_differ_where_the_conventions_do() {
    let v141 = by_model(&spans_under(Profile::V1_41).await);
    let v01 = by_model(&spans_under(Profile::GenAiV0_1).await);

    // Cache-write usage: renamed.
    let claude = "claude-sonnet-4-5";
    assert_eq!(
        v141[claude].get("gen_ai.usage.cache_creation.input_tokens"),
        Some(&i(188086))
    );
    assert!(!v141[claude].contains_key("gen_ai.usage.cache_write.input_tokens"));
    assert_eq!(
        v01[claude].get("gen_ai.usage.cache_write.input_tokens"),
        Some(&i(188086))
    );
    assert!(!v01[claude].contains_key("gen_ai.usage.cache_creation.input_tokens"));

    // A named session is the conversation under both.
    for p in [&v141, &v01] {
        assert_eq!(
            p[claude].get("gen_ai.conversation.id"),
            Some(&s("named-session"))
        );
    }
    // A trace without a session: v1.41 names it after the trace, v0.1 synthesizes nothing.
    let gpt = "gpt-4o-mini";
    assert!(
        v141[gpt].contains_key("gen_ai.conversation.id"),
        "{:#?}",
        v141[gpt]
    );
    assert!(
        !v01[gpt].contains_key("gen_ai.conversation.id"),
        "{:#?}",
        v01[gpt]
    );

    // top_k: double in v1.41, int in v0.1.
    assert_eq!(
        v141[gpt].get("gen_ai.request.top_k"),
        Some(&Value::F64(40.0))
    );
    assert_eq!(v01[gpt].get("gen_ai.request.top_k"), Some(&i(40)));

    // A stream cut off early: v1.41 records the finish reasons that arrived (none),
    // v0.1 requires ["error"]. Both: cancelled.
    let (a, b) = (&v141["stream"], &v01["stream"]);
    assert_eq!(a.get("error.type"), Some(&s("cancelled")));
    assert_eq!(b.get("error.type"), Some(&s("cancelled")));
    assert!(!a.contains_key("gen_ai.response.finish_reasons"), "{a:#?}");
    assert_eq!(
        b.get("gen_ai.response.finish_reasons"),
        Some(&strings(&["error"]))
    );
}

#[test]
fn the_opt_in_variable_selects_the_profile() {
    assert_eq!(Profile::from_opt_in(""), Profile::V1_41);
    assert_eq!(Profile::from_opt_in("http"), Profile::V1_41);
    assert_eq!(
        Profile::from_opt_in("http, gen_ai_latest_experimental"),
        Profile::GenAiV0_1
    );
    assert_eq!(Profile::default(), Profile::V1_41);
    // Config::from_env reads it (this test binary's environment is its own).
    std::env::set_var(semconv::OPT_IN_ENV, semconv::OPT_IN_GEN_AI_LATEST);
    let config = humanloop_tracing::Config::from_env().unwrap();
    std::env::remove_var(semconv::OPT_IN_ENV);
    assert_eq!(config.semconv_profile(), Profile::GenAiV0_1);
    assert_eq!(
        humanloop_tracing::Config::builder()
            .build()
            .unwrap()
            .semconv_profile(),
        Profile::V1_41
    );
}

#[test]
fn the_table_names_each_thing_once_per_profile() {
    for profile in [Profile::V1_41, Profile::GenAiV0_1] {
        for kind in [Kind::Attribute, Kind::Metric, Kind::MetricAttribute] {
            let mut names = table_names(profile, kind);
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{profile:?} {kind:?}: a name twice");
        }
    }
    // The renamed metrics and the usage counters are where v0.1 puts them.
    let v01 = table_names(Profile::GenAiV0_1, Kind::Metric);
    assert!(v01.contains(&"gen_ai.client.inference.duration"));
    assert!(!v01.contains(&"gen_ai.client.operation.duration"));
    assert!(!v01.contains(&"gen_ai.client.token.usage"));
    assert!(v01.contains(&"gen_ai.client.inference.usage.cache_write.input_tokens"));
    let v141 = table_names(Profile::V1_41, Kind::Metric);
    assert!(v141.contains(&"gen_ai.client.token.usage"));
    assert!(!v141.contains(&"gen_ai.client.inference.duration"));
}
