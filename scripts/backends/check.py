"""Check one quickstart run as a real OpenTelemetry backend stored it, through that
backend's own API (Arize Phoenix: REST + GraphQL; MLflow: its Python client).

    check.py phoenix URL TREE_JSON SESSION CAPTURE PROJECT
    check.py mlflow  URL TREE_JSON SESSION CAPTURE EXPERIMENT_ID
    check.py mlflow-experiment URL NAME      (prints a new experiment's id)

TREE_JSON is what the quickstart wrote (QUICKSTART_TREE_JSON): the spans it printed.
CAPTURE is `on` or `off` (HUMANLOOP_CAPTURE_CONTENT of that run). Checked:

* the backend holds the same tree (span ids, names, parents) as the quickstart printed;
* every LLM span is typed LLM (Phoenix) / CHAT_MODEL (MLflow), with model, provider,
  input and output tokens and a cost;
* every step is typed: TOOL for `execute_tool`, AGENT for `invoke_agent` (steps, agents,
  the session); no span is left untyped;
* the run is one session, keyed by the quickstart's session key;
* messages are there with capture on (and the trace's preview) and absent with it off.

Exits non-zero with the list of what failed.
"""

import json
import sys
import time
import urllib.error
import urllib.request

FAILURES = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what)
    if not ok:
        FAILURES.append(what)


def load_tree(path):
    spans = json.load(open(path))
    return {s["span_id"]: s for s in spans}


def op(span):
    return span["attributes"].get("gen_ai.operation.name")


def http_json(url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def expected_type(span, llm, tool, agent):
    return {"chat": llm, "execute_tool": tool, "invoke_agent": agent}.get(op(span))


# ---------------------------------------------------------------- Phoenix


def phoenix(url, tree, session, capture, project):
    trace_ids = {s["trace_id"] for s in tree.values()}
    spans = []
    for _ in range(60):
        try:
            got = http_json(f"{url}/v1/projects/{project}/spans?limit=1000")["data"]
        except urllib.error.HTTPError as e:
            if e.code != 404:  # the project appears with its first spans
                raise
            got = []
        spans = [s for s in got if s["context"]["trace_id"] in trace_ids]
        if len(spans) >= len(tree):
            break
        time.sleep(0.5)
    by_id = {s["context"]["span_id"]: s for s in spans}
    check(len(by_id) == len(tree), f"Phoenix holds the {len(tree)} spans of the run (has {len(by_id)})")
    for sid, want in tree.items():
        have = by_id.get(sid)
        if have is None:
            check(False, f"span {want['name']} ({sid}) is in Phoenix")
            continue
        parent = want["parent_span_id"] if want["parent_span_id"] != "0000000000000000" else None
        check(
            have["name"] == want["name"] and (have.get("parent_id") or None) == parent,
            f"{want['name']}: same name and parent as the quickstart printed",
        )
        kind = expected_type(want, "LLM", "TOOL", "AGENT")
        check(kind is not None and have["span_kind"] == kind, f"{want['name']}: typed {kind} (is {have['span_kind']})")
        a = have["attributes"]
        if op(want) == "chat":
            check(bool(a.get("llm.model_name")), f"{want['name']}: model {a.get('llm.model_name')}")
            check(bool(a.get("llm.provider") or a.get("llm.system")), f"{want['name']}: provider")
            check(
                (a.get("llm.token_count.prompt") or 0) > 0 and (a.get("llm.token_count.completion") or 0) > 0,
                f"{want['name']}: tokens {a.get('llm.token_count.prompt')}→{a.get('llm.token_count.completion')}",
            )
            cost = phoenix_cost(url, have["id"])
            check(cost is not None and cost > 0, f"{want['name']}: cost {cost}")
            has_messages = any(k.startswith("llm.input_messages.") for k in a) and any(
                k.startswith("llm.output_messages.") for k in a
            )
            check(has_messages == capture, f"{want['name']}: messages {'present' if capture else 'absent'}")
        elif capture is False:
            check("input.value" not in a and "output.value" not in a, f"{want['name']}: no preview with capture off")
    roots = [s for s in tree.values() if s["parent_span_id"] == "0000000000000000"]
    check(len(roots) == 1, "one root span")
    if roots and roots[0]["span_id"] in by_id:
        a = by_id[roots[0]["span_id"]]["attributes"]
        check(bool(a.get("input.value")) == capture, f"root preview input {'present' if capture else 'absent'}")
        check(bool(a.get("output.value")) == capture, f"root preview output {'present' if capture else 'absent'}")
    sessions = http_json(f"{url}/v1/projects/{project}/sessions?limit=100")["data"]
    ours = [s for s in sessions if any(t["trace_id"] in trace_ids for t in s["traces"])]
    check(
        len(ours) == 1 and ours[0]["session_id"] == session,
        f"one session for the run, keyed {session} (got {[s['session_id'] for s in ours]})",
    )


def phoenix_cost(url, global_id):
    query = "query($id: ID!) { node(id: $id) { ... on Span { costSummary { total { cost } } } } }"
    for _ in range(20):
        got = http_json(f"{url}/graphql", {"query": query, "variables": {"id": global_id}})
        summary = ((got.get("data") or {}).get("node") or {}).get("costSummary")
        if summary and summary["total"]["cost"]:
            return summary["total"]["cost"]
        time.sleep(0.5)
    return None


# ---------------------------------------------------------------- MLflow


def mlflow_check(url, tree, session, capture, experiment):
    import mlflow

    mlflow.set_tracking_uri(url)
    trace_ids = {s["trace_id"] for s in tree.values()}
    traces = []
    for _ in range(60):
        traces = mlflow.search_traces(locations=[experiment], return_type="list", max_results=100)
        spans = [s for t in traces for s in t.data.spans]
        if len({s.span_id for s in spans} & set(tree)) >= len(tree):
            break
        time.sleep(0.5)
    spans = {s.span_id: s for t in traces for s in t.data.spans}
    check(len(set(spans) & set(tree)) == len(tree), f"MLflow holds the {len(tree)} spans of the run (has {len(spans)})")
    for sid, want in tree.items():
        have = spans.get(sid)
        if have is None:
            check(False, f"span {want['name']} ({sid}) is in MLflow")
            continue
        parent = want["parent_span_id"] if want["parent_span_id"] != "0000000000000000" else None
        check(
            have.name == want["name"] and (have.parent_id or None) == parent,
            f"{want['name']}: same name and parent as the quickstart printed",
        )
        kind = expected_type(want, "CHAT_MODEL", "TOOL", "AGENT")
        check(kind is not None and have.span_type == kind, f"{want['name']}: typed {kind} (is {have.span_type})")
        a = have.attributes
        if op(want) == "chat":
            usage = a.get("mlflow.chat.tokenUsage") or {}
            check(bool(a.get("mlflow.llm.model")), f"{want['name']}: model {a.get('mlflow.llm.model')}")
            check(bool(a.get("mlflow.llm.provider")), f"{want['name']}: provider {a.get('mlflow.llm.provider')}")
            check(
                usage.get("input_tokens", 0) > 0 and usage.get("output_tokens", 0) > 0,
                f"{want['name']}: tokens {usage}",
            )
            cost = (a.get("mlflow.llm.cost") or {}).get("total_cost")
            check(bool(cost), f"{want['name']}: cost {cost}")
            check(
                (have.inputs is not None and have.outputs is not None) == capture,
                f"{want['name']}: messages {'present' if capture else 'absent'}",
            )
        elif capture is False:
            check(have.inputs is None and have.outputs is None, f"{want['name']}: no inputs/outputs with capture off")
    ours = [t for t in traces if t.info.trace_id.split("-")[-1] in trace_ids or any(s.span_id in tree for s in t.data.spans)]
    check(len(ours) == 1, f"one trace for the run (got {len(ours)})")
    sessions = {t.info.trace_metadata.get("mlflow.trace.session") for t in ours}
    check(sessions == {session}, f"one session for the run, keyed {session} (got {sessions})")
    if ours:
        info = ours[0].info
        check(bool(info.request_preview) == capture, f"trace request preview {'present' if capture else 'absent'}")
        check(bool(info.response_preview) == capture, f"trace response preview {'present' if capture else 'absent'}")


def main():
    what = sys.argv[1]
    if what == "mlflow-experiment":
        import mlflow

        mlflow.set_tracking_uri(sys.argv[2])
        print(mlflow.create_experiment(sys.argv[3]))
        return
    url, tree_path, session, capture, where = sys.argv[2:7]
    tree = load_tree(tree_path)
    capture = capture == "on"
    if what == "phoenix":
        phoenix(url, tree, session, capture, where)
    else:
        mlflow_check(url, tree, session, capture, where)
    n = len(FAILURES)
    print(f"  {what}: {'all checks passed' if n == 0 else f'{n} check(s) failed'}")
    sys.exit(1 if n else 0)


if __name__ == "__main__":
    main()
