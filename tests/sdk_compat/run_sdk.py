"""Drive `humanloop-tracing serve` with the real Humanloop v4 Python SDK (humanloop==0.7.35).

Usage: run_sdk.py BASE_URL   (e.g. http://127.0.0.1:8787/v4)

Every SDK operation outside datasets, evaluations and evaluators is called, with the SDK's
own validation (`validate=True`: the answer is parsed by the SDK's pydantic response model,
after the generated client has checked it against the OpenAPI schema). The completion
and chat routes use the built-in `mock` provider, except the configs named `tools-*`,
whose provider is `openai` or `anthropic`: the test that runs this script points those at
a loopback fake and checks what they received. Datasets, evaluations and evaluators must
answer 501.

Prints one line per check (`ok NAME` or `FAIL NAME: …`) and a summary; exits 1 on any
failure.
"""

import asyncio
import datetime
import json
import sys
import traceback
import uuid

import humanloop
from humanloop import Humanloop

BASE = sys.argv[1]
hl = Humanloop(api_key="sdk-compat-key", host=BASE)
RUN = uuid.uuid4().hex[:8]
PROJECT = f"sdk-compat-{RUN}"

results = []
state = {}


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
            print(f"ok {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the run goes on
            results.append((name, e))
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def acheck(name):
    def wrap(fn):
        return check(name)(lambda: asyncio.run(fn()))

    return wrap


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def status_of(call):
    """The HTTP status an SDK call fails with (None when it succeeds)."""
    try:
        call()
    except humanloop.ApiException as e:
        return e.status
    return None


# ---- model configs ----------------------------------------------------------------------


@check("model_configs.register (ProjectConfigResponse, config.id, type model)")
def _():
    r = hl.model_configs.register(
        project=PROJECT,
        model="mock-1",
        provider="mock",
        name="greeter",
        max_tokens=64,
        temperature=0.5,
        prompt_template="Say hello to {{name}}.",
        validate=True,
    )
    expect(r.config.id.startswith("config_"), r.config.id)
    expect(r.config.type == "model", r.config.type)
    expect(r.project_name == PROJECT, r.project_name)
    state["project_id"] = r.project_id
    state["config_id"] = r.config.id


@check("model_configs.register chat config without a type")
def _():
    r = hl.model_configs.register(
        project=PROJECT,
        model="mock-1",
        provider="mock",
        name="chatter",
        endpoint="chat",
        chat_template=[{"role": "system", "content": "You help with {{topic}}."}],
        validate=True,
    )
    state["chat_config_id"] = r.config.id
    again = hl.model_configs.register(
        project=PROJECT,
        model="mock-1",
        provider="mock",
        name="chatter",
        endpoint="chat",
        chat_template=[{"role": "system", "content": "You help with {{topic}}."}],
        validate=True,
    )
    expect(again.config.id == r.config.id, "the same config registered twice is one config")


@check("model_configs.register tools in Humanloop's shape (openai, anthropic)")
def _():
    weather = {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    for provider in ["openai", "anthropic"]:
        r = hl.model_configs.register(
            project=PROJECT,
            model="gpt-4o-mini" if provider == "openai" else "claude-3-5-haiku-latest",
            provider=provider,
            name=f"tools-{provider}",
            endpoint="chat",
            max_tokens=100,
            chat_template=[{"role": "user", "content": "Weather in {{city}}?"}],
            tools=[weather],
            validate=True,
        )
        expect(r.config.tools and r.config.tools[0].id, f"tool ids: {r.config.tools}")
        expect(r.config.tools[0].name == "get_weather", r.config.tools)
        state[f"tools_{provider}"] = r.config.id


@check("model_configs.get (type model, tool ids)")
def _():
    c = hl.model_configs.get(id=state["config_id"], validate=True)
    expect(c.id == state["config_id"] and c.type == "model", c)
    expect(c.prompt_template == "Say hello to {{name}}.", c.prompt_template)
    t = hl.model_configs.get(id=state["tools_openai"], validate=True)
    expect(t.tools[0].id.startswith("tool_"), t.tools)


@check("model_configs.serialize / deserialize / export")
def _():
    text = hl.model_configs.serialize(
        model="mock-1",
        provider="mock",
        endpoint="chat",
        temperature=0.3,
        chat_template=[{"role": "user", "content": "Hi {{name}}"}],
        validate=True,
    )
    expect(isinstance(text, str) and "mock-1" in text, text)
    back = hl.model_configs.deserialize(config=text, validate=True)
    expect(back.model == "mock-1" and back.temperature == 0.3, back)
    expect(back.chat_template[0].content == "Hi {{name}}", back.chat_template)
    exported = hl.model_configs.export(id=state["config_id"], validate=True)
    expect("Say hello to {{name}}." in exported, exported)


# ---- logs ----------------------------------------------------------------------------


@check("logs.log one (config without type, created_at with an offset, feedback)")
def _():
    r = hl.logs.log(
        project=PROJECT,
        reference_id=f"ref-{RUN}",
        inputs={"question": "what is 2+2"},
        output="4",
        config={"model": "gpt-4o-mini", "provider": "openai"},
        metadata={"team": "blue", "run": RUN},
        created_at=datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        feedback={"type": "rating", "value": "good"},
        validate=True,
    )
    expect(r.id.startswith("data_"), r)
    state["log_id"] = r.id
    log = hl.logs.get(id=r.id, validate=True)
    expect(log.created_at == datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc), log.created_at)
    expect(log.config.type == "model" and log.config.model == "gpt-4o-mini", log.config)
    expect(log.feedback and log.feedback[0].id and log.feedback[0].value == "good", log.feedback)


@check("logs.log a list, a tool config, a naive created_at, in a session")
def _():
    session = hl.sessions.create(validate=True)
    state["session_id"] = session.id
    r = hl.logs.log(
        body=[
            {
                "project": PROJECT,
                "session_id": session.id,
                "reference_id": f"root-{RUN}",
                "inputs": {"topic": "maths"},
                "config": {"type": "tool", "name": "planner"},
                "output": "planned",
                "created_at": "2024-05-02T08:00:00",
            },
            {
                "project": PROJECT,
                "session_id": session.id,
                "reference_id": f"side-{RUN}",
                "config": {"type": "tool", "name": "side-step", "description": "d"},
                "output": "done",
            },
        ],
        validate=True,
    )
    expect(isinstance(r, list) and len(r) == 2, r)
    state["root_id"] = r[0].id
    child = hl.logs.log(
        project=PROJECT,
        session_id=session.id,
        parent_reference_id=f"root-{RUN}",
        config={"type": "tool", "name": "child"},
        output="child output",
        validate=True,
    )
    state["child_id"] = child.id
    log = hl.logs.get(id=r[0].id, validate=True)
    expect(log.config.type == "tool" and log.config.status, log.config)
    expect(log.created_at == datetime.datetime(2024, 5, 2, 8, 0, tzinfo=datetime.timezone.utc), log.created_at)


@check("logs.update by id (LogResponse)")
def _():
    log = hl.logs.update(id=state["child_id"], output="child output, completed", duration=1.5, validate=True)
    expect(log.output == "child output, completed" and log.updated_at, log)
    expect(log.evaluation_results == [] and log.observability_status, log)


@check("logs.update_by_ref (no session needed)")
def _():
    log = hl.logs.update_by_ref(reference_id=f"side-{RUN}", output="side done", validate=True)
    expect(log.output == "side done", log.output)
    # Reused in another session of the same project: refused, so the reference stays one log.
    other = hl.sessions.create(validate=True)
    code = status_of(
        lambda: hl.logs.log(
            project=PROJECT,
            session_id=other.id,
            reference_id=f"side-{RUN}",
            config={"type": "tool", "name": "side-step"},
            output="x",
        )
    )
    expect(code == 409, f"reuse answered {code}")


@check("logs.list with the SDK's filters and pagination")
def _():
    pid = state["project_id"]
    all_logs = hl.logs.list(project_id=pid, size=2, page=1, validate=True)
    expect(all_logs.total >= 4 and len(all_logs.records) == 2, (all_logs.total, len(all_logs.records)))
    page2 = hl.logs.list(project_id=pid, size=2, page=2, validate=True)
    expect({r.id for r in page2.records}.isdisjoint({r.id for r in all_logs.records}), "pages overlap")
    found = hl.logs.list(project_id=pid, search="2+2", validate=True)
    expect([r.id for r in found.records] == [state["log_id"]], [r.id for r in found.records])
    meta = hl.logs.list(project_id=pid, metadata_search=json.dumps({"team": "blue"}), validate=True)
    expect([r.id for r in meta.records] == [state["log_id"]], [r.id for r in meta.records])
    dated = hl.logs.list(
        project_id=pid,
        # The SDK sends dates and times as given (it types them as strings on the wire).
        start_date="2024-05-01",
        end_date="2024-05-01T23:00:00+00:00",
        version_status="committed",
        validate=True,
    )
    expect([r.id for r in dated.records] == [state["log_id"]], [r.id for r in dated.records])


@check("feedback one and a list (visible on the log)")
def _():
    one = hl.feedback_api.feedback(type="comment", value="nice", data_id=state["log_id"], user="ann", validate=True)
    expect(one.id and one.value == "nice", one)
    many = hl.feedback_api.feedback(
        body=[
            {"type": "action", "value": "copied", "data_id": state["root_id"]},
            {"type": "correction", "value": "planned well", "data_id": state["root_id"]},
        ],
        validate=True,
    )
    expect(len(many) == 2, many)
    log = hl.logs.get(id=state["root_id"], validate=True)
    expect([f.type for f in log.feedback] == ["action", "correction"], log.feedback)


# ---- sessions ----------------------------------------------------------------------


@check("sessions.get (SessionResponse) and sessions.list")
def _():
    s = hl.sessions.get(id=state["session_id"], validate=True)
    expect(s.datapoints_count == 3, s.datapoints_count)
    expect(s.projects and s.projects[0].name == PROJECT, s.projects)
    expect(s.first_inputs == {"topic": "maths"}, s.first_inputs)
    listed = hl.sessions.list(project_id=state["project_id"], validate=True)
    expect(state["session_id"] in [r.id for r in listed.records], listed)


# ---- completions and chats (mock provider) -------------------------------------------------


@check("completions.create_model_config / create (inline) / create_deployed")
def _():
    r = hl.completions.create_model_config(
        model_config_id=state["config_id"], project=PROJECT, inputs={"name": "Ada"}, validate=True
    )
    expect(r.data[0].output and r.data[0].id.startswith("data_"), r.data)
    log = hl.logs.get(id=r.data[0].id, validate=True)
    expect(log.config.id == state["config_id"] and log.config.type == "model", log.config)
    r = hl.completions.create(
        project=PROJECT,
        model_config={"model": "mock-1", "provider": "mock", "prompt_template": "Inline {{x}}"},
        inputs={"x": "hi"},
        validate=True,
    )
    expect(r.data[0].output, r)
    deployed = hl.projects.deploy_config(
        project_id=state["project_id"], config_id=state["config_id"], validate=True
    )
    expect(deployed[0].model_config_id_ == state["config_id"], deployed)
    r = hl.completions.create_deployed(project=PROJECT, inputs={"name": "Bob"}, validate=True)
    expect("Bob" in r.data[0].output or r.data[0].output, r.data)


@check("chats.create / create_model_config / create_deployed")
def _():
    messages = [{"role": "user", "content": "Tell me about primes."}]
    r = hl.chats.create(
        project=PROJECT,
        messages=messages,
        model_config={"model": "mock-1", "provider": "mock", "chat_template": [{"role": "system", "content": "Be brief."}]},
        validate=True,
    )
    expect(r.data[0].output_message.role == "assistant", r.data[0].output_message)
    r = hl.chats.create_model_config(
        model_config_id=state["chat_config_id"], messages=messages, inputs={"topic": "maths"}, validate=True
    )
    expect(r.data[0].output_message.content, r.data)
    hl.projects.deploy_config(
        project_id=state["project_id"],
        config_id=state["chat_config_id"],
        environments=[{"id": "env_staging", "name": "staging"}],
        validate=True,
    )
    r = hl.chats.create_deployed(
        project=PROJECT, environment="staging", messages=messages, inputs={"topic": "maths"}, validate=True
    )
    expect(r.data[0].output_message.content, r.data)


@check("top-level helpers: complete, chat, log, feedback, chat_model_config")
def _():
    r = hl.complete(project=PROJECT, model_config={"model": "mock-1", "provider": "mock", "prompt_template": "x"})
    expect(r.data[0].output, r)
    r = hl.chat_model_config(
        model_config_id=state["chat_config_id"], messages=[{"role": "user", "content": "hi"}], inputs={"topic": "t"}
    )
    expect(r.data[0].output_message, r)
    r = hl.log(project=PROJECT, config={"type": "tool", "name": "top"}, output="top-level")
    expect(r.id, r)
    f = hl.feedback(type="rating", value="bad", data_id=r.id)
    expect(f.id, f)


@acheck("async: alog, aget, acreate_model_config")
async def _():
    r = await hl.logs.alog(project=PROJECT, config={"type": "tool", "name": "a"}, output="async", validate=True)
    got = await hl.logs.aget(id=r.id, validate=True)
    expect(got.output == "async", got)
    c = await hl.completions.acreate_model_config(
        model_config_id=state["config_id"], inputs={"name": "Async"}, validate=True
    )
    expect(c.data[0].output, c)


async def collect(response):
    chunks = []
    async for chunk in response.content:
        chunks.append(chunk)
    return chunks


@acheck("streams: complete_*_stream and chat_*_stream")
async def _():
    m = [{"role": "user", "content": "stream please"}]
    streams = {
        "complete_stream": hl.complete_stream(
            project=PROJECT, model_config={"model": "mock-1", "provider": "mock", "prompt_template": "Stream {{x}}"}, inputs={"x": "a b c"}
        ),
        "complete_model_config_stream": hl.complete_model_config_stream(model_config_id=state["config_id"], inputs={"name": "S"}),
        "complete_deployed_stream": hl.complete_deployed_stream(project=PROJECT, inputs={"name": "D"}),
        "chat_stream": hl.chat_stream(project=PROJECT, messages=m, model_config={"model": "mock-1", "provider": "mock"}),
        "chat_model_config_stream": hl.chat_model_config_stream(model_config_id=state["chat_config_id"], messages=m, inputs={"topic": "t"}),
        "chat_deployed_stream": hl.chat_deployed_stream(project=PROJECT, environment="staging", messages=m, inputs={"topic": "t"}),
    }
    for name, call in streams.items():
        chunks = await collect(await call)
        expect(chunks, f"{name}: no chunk")
        last = chunks[-1]
        expect(last.get("finish_reason"), f"{name}: last chunk {last}")
        expect(last.get("id", "").startswith("data_"), f"{name}: last chunk {last}")


@check("tools go to openai and anthropic (the fake provider checks their shape)")
def _():
    for provider in ["openai", "anthropic"]:
        r = hl.chats.create_model_config(
            model_config_id=state[f"tools_{provider}"],
            messages=[{"role": "user", "content": "and tomorrow?"}],
            inputs={"city": "Paris"},
            provider_api_keys={provider: f"sk-{provider}-from-sdk"},
            tool_choice="auto",
            validate=True,
        )
        expect(r.data, r)
        log = hl.logs.get(id=r.data[0].id, validate=True)
        expect(f"sk-{provider}-from-sdk" not in log.model_dump_json(), "a provider key was stored")


# ---- projects -------------------------------------------------------------------------


@check("projects.create / get / list / update")
def _():
    p = hl.projects.create(name=f"{PROJECT}-extra", validate=True)
    expect(p.name == f"{PROJECT}-extra" and p.team_id, p)
    expect(status_of(lambda: hl.projects.create(name=f"{PROJECT}-extra")) == 409, "name taken")
    state["extra_project"] = p.id
    got = hl.projects.get(id=state["project_id"], validate=True)
    expect(got.data_count >= 5 and got.active_config, got)
    listed = hl.projects.list(filter=PROJECT, size=10, sort_by="name", order="asc", validate=True)
    expect([r.name for r in listed.records] == [PROJECT, f"{PROJECT}-extra"], [r.name for r in listed.records])
    up = hl.projects.update(id=p.id, name=f"{PROJECT}-renamed", validate=True)
    expect(up.name == f"{PROJECT}-renamed", up)
    up = hl.projects.update(id=state["project_id"], active_config_id=state["config_id"], validate=True)
    expect(up.active_config.config.id == state["config_id"], up.active_config)


@check("projects.list_configs / get_active_config / deactivate_config")
def _():
    configs = hl.projects.list_configs(id=state["project_id"], validate=True)
    expect(state["config_id"] in [c.config.id for c in configs], configs)
    active = hl.projects.get_active_config(id=state["project_id"], validate=True)
    expect(active.config.id == state["config_id"], active)
    staging = hl.projects.get_active_config(id=state["project_id"], environment="staging", validate=True)
    expect(staging.config.id == state["chat_config_id"] and staging.environment_id == "env_staging", staging)
    p = hl.projects.deactivate_config(id=state["project_id"], validate=True)
    expect(p.id == state["project_id"], p)


@check("projects.deploy_config / list_deployed_configs / delete_deployed_config")
def _():
    deployed = hl.projects.list_deployed_configs(id=state["project_id"], validate=True)
    expect(sorted(d.environment_name for d in deployed) == ["production", "staging"], deployed)
    hl.projects.delete_deployed_config(project_id=state["project_id"], environment_id="env_staging", validate=True)
    deployed = hl.projects.list_deployed_configs(id=state["project_id"], validate=True)
    expect([d.environment_name for d in deployed] == ["production"], deployed)


@check("projects.create_feedback_type / update_feedback_types / export")
def _():
    t = hl.projects.create_feedback_type(
        id=state["project_id"],
        type="tone",
        _class="select",
        values=[{"value": "warm", "sentiment": "positive"}, {"value": "cold"}],
        validate=True,
    )
    expect(t.type == "tone" and t.values[1].sentiment == "unset", t)
    hl.projects.update_feedback_types(id=state["project_id"], validate=True)
    p = hl.projects.get(id=state["project_id"], validate=True)
    expect("tone" in [f.type for f in p.feedback_types], p.feedback_types)
    exported = hl.projects.export(id=state["project_id"], page=1, size=3, validate=True)
    expect(len(exported.records) == 3 and exported.total >= 5, exported.total)


@check("logs.delete and projects.delete (204)")
def _():
    hl.logs.delete(id=[state["child_id"]], validate=True)
    expect(status_of(lambda: hl.logs.get(id=state["child_id"])) == 404, "deleted log still there")
    hl.projects.delete(id=state["extra_project"], validate=True)
    expect(status_of(lambda: hl.projects.get(id=state["extra_project"])) == 404, "deleted project still there")


# ---- errors and what is out of scope ---------------------------------------------------


@check("422 for bad input, 404 for unknown ids")
def _():
    expect(status_of(lambda: hl.logs.get(id="data_missing")) == 404, "unknown log")
    expect(status_of(lambda: hl.model_configs.get(id="config_missing")) == 404, "unknown config")
    expect(
        status_of(lambda: hl.completions.create_model_config(model_config_id="config_missing")) == 404,
        "unknown config in a completion",
    )


@check("datasets, evaluations, evaluators: 501 with a detail")
def _():
    calls = {
        "datasets.list": lambda: hl.datasets.list(),
        "datasets.list_all_for_project": lambda: hl.datasets.list_all_for_project(project_id=state["project_id"]),
        "evaluations.list_all_for_project": lambda: hl.evaluations.list_all_for_project(project_id=state["project_id"]),
        "evaluators.list": lambda: hl.evaluators.list(),
        "datapoints.get": lambda: hl.datapoints.get(id="dp_1"),
    }
    for name, call in calls.items():
        try:
            call()
            raise AssertionError(f"{name} succeeded")
        except humanloop.ApiException as e:
            expect(e.status == 501, f"{name}: {e.status}")
            expect("not implemented" in str(e.body), f"{name}: {e.body}")


failed = [(n, e) for n, e in results if e is not None]
print(f"\n{len(results) - len(failed)}/{len(results)} checks passed against {BASE} (humanloop {humanloop.__version__ if hasattr(humanloop, '__version__') else '0.7.35'})")
sys.exit(1 if failed else 0)
