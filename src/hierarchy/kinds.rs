//! The typed span constructors: every span the crate makes carries a GenAI operation, so
//! OpenTelemetry backends show tools as tools and agents as agents.
//!
//! | constructor | `gen_ai.operation.name` | span name | endpoint log |
//! |---|---|---|---|
//! | [`session(key)`](crate::session) | `invoke_agent` (agent `session`), `gen_ai.conversation.id = key` | `invoke_agent session` | the session |
//! | [`agent(name)`](crate::agent) | `invoke_agent`, `gen_ai.agent.name` | `invoke_agent {name}` | a step |
//! | [`step(name)`](crate::step) | `invoke_agent` (a step that orchestrates), `gen_ai.agent.name` | `{name}` | a step |
//! | [`tool(name)`](crate::tool) | `execute_tool`, `gen_ai.tool.name` | `execute_tool {name}` | a step |
//!
//! With content capture on (`Config::capture_content`), what
//! [`record_input`](crate::hierarchy::record_input) and
//! [`record_output`](crate::hierarchy::record_output) record also goes on the span:
//! `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result` on tools,
//! `gen_ai.input.messages` / `gen_ai.output.messages` (and the `input.value` /
//! `output.value` previews that trace lists show) on agents, steps and sessions.

use tracing::field::Empty;
use tracing::Span;

use crate::semconv::{OP_EXECUTE_TOOL, OP_INVOKE_AGENT};

/// The agent name of a session span.
pub(crate) const SESSION_AGENT: &str = "session";

/// A session span (see [`session`](crate::session)).
pub(crate) fn session_span(key: &str) -> Span {
    tracing::info_span!(
        "session",
        otel.name = "invoke_agent session",
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = OP_INVOKE_AGENT,
        gen_ai.agent.name = SESSION_AGENT,
        gen_ai.conversation.id = key,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
        input.value = Empty,
        output.value = Empty,
        error.type = Empty,
        humanloop.session = key,
    )
}

/// An orchestrating step named `name`; `otel_name` is its OpenTelemetry span name.
pub(crate) fn agent_span(name: &str, otel_name: &str) -> Span {
    tracing::info_span!(
        "step",
        otel.name = otel_name,
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = OP_INVOKE_AGENT,
        gen_ai.agent.name = name,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty,
        input.value = Empty,
        output.value = Empty,
        error.type = Empty,
        humanloop.step = name,
        humanloop.output = Empty,
        humanloop.error = Empty,
    )
}

/// An agent step: an `invoke_agent` span named `invoke_agent {name}`, logged as a step
/// like [`step`](crate::step). Record what it was asked and what it answered with
/// [`record_input`](crate::hierarchy::record_input) and
/// [`record_output`](crate::hierarchy::record_output).
///
/// ```
/// use tracing::Instrument;
/// # async fn demo() {
/// async { /* plan, call tools and models */ }
///     .instrument(humanloop_tracing::agent("planner"))
///     .await;
/// # }
/// ```
pub fn agent(name: impl AsRef<str>) -> Span {
    let name = name.as_ref();
    agent_span(name, &format!("{OP_INVOKE_AGENT} {name}"))
}

/// A tool step: an `execute_tool` span named `execute_tool {name}` with
/// `gen_ai.tool.name`, logged as a step. Its arguments and result go through
/// [`record_input`](crate::hierarchy::record_input) and
/// [`record_output`](crate::hierarchy::record_output) (on the span as
/// `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result` when content capture is on).
///
/// ```
/// use tracing::Instrument;
/// # async fn demo() {
/// let span = humanloop_tracing::tool("search");
/// humanloop_tracing::hierarchy::record_input(&span, "query", "flights to Lisbon");
/// async {
///     let hits = "3 flights";
///     humanloop_tracing::hierarchy::record_output(&tracing::Span::current(), hits);
/// }
/// .instrument(span)
/// .await;
/// # }
/// ```
pub fn tool(name: impl AsRef<str>) -> Span {
    let name = name.as_ref();
    tracing::info_span!(
        "step",
        otel.name = format!("{OP_EXECUTE_TOOL} {name}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = OP_EXECUTE_TOOL,
        gen_ai.tool.name = name,
        gen_ai.tool.type = "function",
        gen_ai.tool.call.arguments = Empty,
        gen_ai.tool.call.result = Empty,
        error.type = Empty,
        humanloop.step = name,
        humanloop.output = Empty,
        humanloop.error = Empty,
    )
}
