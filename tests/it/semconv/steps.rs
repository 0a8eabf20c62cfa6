//! Every span the crate makes is typed: `tool(..)` is an `execute_tool` span with
//! `gen_ai.tool.name`, `agent(..)` and `step(..)` are `invoke_agent` spans, a session is an
//! `invoke_agent` span carrying `gen_ai.conversation.id`. What `record_input` /
//! `record_output` record reaches the span only with content capture on (through the
//! redaction hook); the steps are still logged as before.

use crate::harness::{endpoint::*, otel::*};
use humanloop_tracing::hierarchy::{record_error, record_input, record_output};
use humanloop_tracing::{agent, session, step, tool};
use opentelemetry_sdk::trace::SpanData;
use tracing::Instrument;

async fn run(capture: bool) -> (Vec<SpanData>, Vec<serde_json::Value>) {
    let sink = Recorder::start().await;
    let hl = humanloop(&sink, |b| {
        b.capture_content(capture)
            .redact(|s: &mut String| *s = s.replace("secret", "***"))
    });
    let otel = otel_with_hierarchy(&hl);
    let root = session("conv-7");
    record_input(&root, "question", "Plan a secret trip");
    async {
        let planner = agent("planner");
        record_input(&planner, "goal", "three days");
        async {
            let search = tool("search");
            record_input(&search, "query", "flights to Lisbon");
            record_input(&search, "limit", 3);
            async {
                record_output(&tracing::Span::current(), "3 flights, one secret");
            }
            .instrument(search)
            .await;
            let broken = tool("book");
            async {
                record_error(&tracing::Span::current(), "no seats");
            }
            .instrument(broken)
            .await;
            async {}.instrument(step("summarise")).await;
            record_output(&tracing::Span::current(), "a plan");
        }
        .instrument(planner)
        .await;
        record_output(&tracing::Span::current(), "Here is your trip");
    }
    .instrument(root)
    .await;
    let logs = flushed_logs(&hl, &sink, 4).await;
    (otel.spans(), logs)
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name}: {:#?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

#[tokio::test(flavor = "current_thread")]
async fn steps_and_sessions_are_typed() {
    let (spans, logs) = run(false).await;
    assert_eq!(spans.len(), 5, "{spans:#?}");

    let search = attrs(named(&spans, "execute_tool search"));
    assert_eq!(
        search.get("gen_ai.operation.name"),
        Some(&s("execute_tool"))
    );
    assert_eq!(search.get("gen_ai.tool.name"), Some(&s("search")));
    assert_eq!(search.get("gen_ai.tool.type"), Some(&s("function")));

    let planner = attrs(named(&spans, "invoke_agent planner"));
    assert_eq!(
        planner.get("gen_ai.operation.name"),
        Some(&s("invoke_agent"))
    );
    assert_eq!(planner.get("gen_ai.agent.name"), Some(&s("planner")));

    let summarise = attrs(named(&spans, "summarise"));
    assert_eq!(
        summarise.get("gen_ai.operation.name"),
        Some(&s("invoke_agent"))
    );
    assert_eq!(summarise.get("gen_ai.agent.name"), Some(&s("summarise")));

    let root = attrs(named(&spans, "invoke_agent session"));
    assert_eq!(root.get("gen_ai.operation.name"), Some(&s("invoke_agent")));
    assert_eq!(root.get("gen_ai.conversation.id"), Some(&s("conv-7")));

    let book = named(&spans, "execute_tool book");
    assert!(is_error(book));
    assert_eq!(attrs(book).get("error.type"), Some(&s("_OTHER")));

    // Content is off by default on spans: nothing recorded shows.
    for span in &spans {
        for key in [
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "input.value",
            "output.value",
        ] {
            assert!(!attrs(span).contains_key(key), "{} has {key}", span.name);
        }
    }
    // The steps are logged as before: tool datapoints with their inputs.
    let search_log = logs
        .iter()
        .find(|l| l["config"]["name"] == "search")
        .unwrap_or_else(|| panic!("{logs:#?}"));
    assert_eq!(search_log["config"]["type"], "tool");
    assert_eq!(search_log["inputs"]["query"], "flights to Lisbon");
    assert_eq!(search_log["session_reference_id"], "conv-7");
}

#[tokio::test(flavor = "current_thread")]
async fn with_capture_on_inputs_and_outputs_reach_the_spans_redacted() {
    let (spans, _) = run(true).await;

    let search = attrs(named(&spans, "execute_tool search"));
    let args: serde_json::Value =
        serde_json::from_str(&search["gen_ai.tool.call.arguments"].as_str()).unwrap();
    assert_eq!(
        args,
        serde_json::json!({"query": "flights to Lisbon", "limit": 3})
    );
    assert_eq!(
        search.get("gen_ai.tool.call.result"),
        Some(&s("3 flights, one ***"))
    );
    assert!(!search.contains_key("input.value"));

    let planner = attrs(named(&spans, "invoke_agent planner"));
    assert_eq!(planner.get("input.value"), Some(&s("three days")));
    assert_eq!(planner.get("output.value"), Some(&s("a plan")));
    let input: serde_json::Value =
        serde_json::from_str(&planner["gen_ai.input.messages"].as_str()).unwrap();
    assert_eq!(input[0]["role"], "user");
    assert_eq!(input[0]["parts"][0]["content"], "three days");
    let output: serde_json::Value =
        serde_json::from_str(&planner["gen_ai.output.messages"].as_str()).unwrap();
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["parts"][0]["content"], "a plan");

    // The session's preview: what the user recorded on it, redacted.
    let root = attrs(named(&spans, "invoke_agent session"));
    assert_eq!(root.get("input.value"), Some(&s("Plan a *** trip")));
    assert_eq!(root.get("output.value"), Some(&s("Here is your trip")));
}
