"""Runs end to end through the ASGI application: the run consumer, the executor's worker thread,
the engine, the event log, and a local OpenAI-compatible server standing in for the provider.

These need ``transactional_db``: the job runs in a worker thread with its own connection.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml
from asgiref.sync import async_to_sync

from accounts.audit import Actor
from accounts.models import AuditEvent
from apps_runtime.demo import demo_app_path
from apps_runtime.dsl import dsl_parse
from apps_runtime.models import AppMode
from apps_runtime.runs.models import Conversation, Message, NodeExecution, Run
from apps_runtime.runs.tests.helpers import events_path, run_path, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.services import app_import_parsed
from apps_runtime.tests.factories import form_row, make_prompt_app

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDER = "langgenius/openai_api_compatible/openai_api_compatible"


def import_app(workspace, author, source: str | Path, edit=None):
    """A demo app (optionally an edited copy of its DSL) imported into ``workspace``."""
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) else source
    if edit is not None:
        document = yaml.safe_load(text)
        edit(document)
        text = yaml.safe_dump(document, allow_unicode=True)
    return app_import_parsed(
        workspace=workspace, parsed=dsl_parse(text), author=author, actor=Actor.system("test")
    ).app


def wait_for_run(run_id, *, statuses=("succeeded", "failed", "stopped", "paused"), timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.filter(pk=run_id).first()
        if run is not None and run.status in statuses:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


@pytest.fixture
def token(alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    return token_for(alice)


@pytest.fixture
def echo_workflow(acme, alice):
    return import_app(acme, alice, demo_app_path("echo_workflow.yml"))


@pytest.fixture
def echo_chat(acme, alice):
    return import_app(acme, alice, demo_app_path("echo_chat.yml"))


def assert_framed(response):
    """Every data frame has an ``id:``, every event a ``task_id`` (one per run)."""
    assert response.status == 200, response.body[:300]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-length" not in response.headers
    data = [f for f in response.frames if "data" in f]
    assert data and all(f.get("id") for f in data)
    assert len({e["task_id"] for e in response.events}) == 1


# --- echo apps (no model) ---------------------------------------------------------------------


def test_echo_workflow_streams_its_inputs_back(echo_workflow, token):
    response = sse_call(
        "POST",
        run_path(echo_workflow),
        token=token,
        body={"inputs": {"x": "hello", "num": "4", "enum_var": "B", "stranger": 1}},
    )
    assert_framed(response)
    names = response.names
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert "node_started" in names and "node_finished" in names
    started, finished = response.events[0], response.events[-1]
    run = Run.objects.get()
    assert started["task_id"] == str(run.id)
    assert started["workflow_run_id"] == str(run.workflow_run_id)
    assert all(e["workflow_run_id"] == str(run.workflow_run_id) for e in response.events)
    assert "stranger" not in started["data"]["inputs"]  # unknown inputs are dropped
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["outputs"]["x"] == "hello"
    assert finished["data"]["outputs"]["num"] == 4
    assert finished["data"]["outputs"]["enum_var"] == "B"
    assert run.status == "succeeded" and run.outputs == finished["data"]["outputs"]
    assert NodeExecution.objects.filter(run=run, status="succeeded").count() >= 2
    assert AuditEvent.objects.filter(action="run.started").count() == 1


def test_an_edited_copy_of_the_echo_workflow_runs_as_edited(acme, alice, token):
    def edit(document):
        graph = document["workflow"]["graph"]
        start = next(n for n in graph["nodes"] if n["data"]["type"] == "start")
        start["data"]["variables"] = [
            {"variable": "city", "label": "city", "type": "text-input", "required": True}
        ]
        end = next(n for n in graph["nodes"] if n["data"]["type"] == "end")
        end["data"]["outputs"] = [
            {"variable": "where", "value_selector": ["start", "city"], "value_type": "string"}
        ]
        document["app"]["name"] = "Edited echo"

    app = import_app(acme, alice, demo_app_path("echo_workflow.yml"), edit)
    missing = sse_call("POST", run_path(app), token=token, body={"inputs": {"x": "a"}})
    assert missing.status == 422 and missing.json()["message"] == "city is required"
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {"city": "Oslo"}})
    assert response.events[-1]["data"]["outputs"] == {"where": "Oslo"}


@pytest.mark.parametrize("colon", [False, True])
def test_echo_chat_answers_and_continues_the_conversation(echo_chat, token, colon):
    first = sse_call(
        "POST", run_path(echo_chat, colon), token=token, body={"inputs": {}, "query": "hi there"}
    )
    assert_framed(first)
    assert first.names[-2:] == ["workflow_finished", "message_end"]
    messages = [e for e in first.events if e["event"] == "message"]
    assert "".join(m["answer"] for m in messages) == "echo: hi there"
    end = first.events[-1]
    conversation_id = end["conversation_id"]
    for event in [*messages, end]:
        assert event["conversation_id"] == conversation_id
        assert event["message_id"] == event["id"] == end["message_id"]
        assert isinstance(event["created_at"], int)
    assert Conversation.objects.get(pk=conversation_id).name == "hi there"

    second = sse_call(
        "POST",
        run_path(echo_chat, colon),
        token=token,
        body={"inputs": {}, "query": "again", "conversation_id": f"  {conversation_id} "},
    )
    assert second.events[-1]["conversation_id"] == conversation_id
    assert second.events[-1]["message_id"] != end["message_id"]
    assert Message.objects.filter(conversation_id=conversation_id).count() == 2


def test_an_edited_echo_chat_answers_with_its_own_template(acme, alice, token):
    def edit(document):
        answer = next(
            n for n in document["workflow"]["graph"]["nodes"] if n["data"]["type"] == "answer"
        )
        answer["data"]["answer"] = "you said <{{#sys.query#}}>"

    app = import_app(acme, alice, demo_app_path("echo_chat.yml"), edit)
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {}, "query": "x"})
    answer = "".join(e["answer"] for e in response.events if e["event"] == "message")
    assert answer == "you said <x>"


def test_a_long_first_query_names_the_conversation_with_40_characters(echo_chat, token):
    query = "a" * 30 + "  b\nc " + "d" * 30
    sse_call("POST", run_path(echo_chat), token=token, body={"inputs": {}, "query": query})
    name = Conversation.objects.get().name
    assert len(name) == 40 and "\n" not in name


# --- prompt apps against the provider test double ---------------------------------------------


@pytest.fixture
def chat_app(acme):
    return make_prompt_app(
        acme,
        mode=AppMode.CHAT,
        form=[form_row("product", required=True)],
        config={
            "pre_prompt": "You support {{product}} users.",
            "model": {
                "provider": PROVIDER,
                "name": "test-model-7",
                "mode": "chat",
                "completion_params": {"temperature": 0.2},
            },
        },
    )


def test_chat_sends_the_prompt_and_history_and_reports_the_providers_usage(
    chat_app, token, llm_env
):
    llm_env.answer("First answer", usage=(11, 3), once=True)
    llm_env.answer("Second answer", usage=(29, 5), once=True)
    first = sse_call(
        "POST",
        run_path(chat_app),
        token=token,
        body={"inputs": {"product": "Acme DB"}, "query": "How do I start?"},
    )
    assert_framed(first)
    assert first.names[-1] == "message_end"
    assert "".join(e["answer"] for e in first.events if e["event"] == "message") == "First answer"
    usage = first.events[-1]["metadata"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        11,
        3,
        14,
    )

    conversation_id = first.events[-1]["conversation_id"]
    second = sse_call(
        "POST",
        run_path(chat_app),
        token=token,
        body={
            "inputs": {"product": "Acme DB"},
            "query": "And then?",
            "conversation_id": conversation_id,
        },
    )
    assert second.events[-1]["metadata"]["usage"]["total_tokens"] == 34
    body = llm_env.requests[-1].body
    assert body["model"] == "test-model-7" and body["stream"] is True
    contents = [(m["role"], m["content"]) for m in body["messages"]]
    assert contents[0][0] == "system" and "Acme DB" in contents[0][1]
    assert contents[1:] == [
        ("user", "How do I start?"),
        ("assistant", "First answer"),
        ("user", "And then?"),
    ]
    message = Message.objects.get(run_id=second.events[-1]["task_id"])
    assert (message.prompt_tokens, message.completion_tokens, message.total_tokens) == (29, 5, 34)
    assert message.answer == "Second answer"


def test_completion_streams_without_a_conversation(acme, token, llm_env):
    app = make_prompt_app(
        acme,
        mode=AppMode.COMPLETION,
        form=[form_row("topic", required=True)],
        config={
            "pre_prompt": "Write one line about {{topic}}.",
            "model": {"provider": PROVIDER, "name": "m", "mode": "completion"},
        },
    )
    llm_env.answer("Lines are short.", usage=(7, 4))
    response = sse_call(
        "POST",
        run_path(app),
        token=token,
        body={"inputs": {"topic": "lines"}, "conversation_id": ""},
    )
    assert_framed(response)
    assert response.names[-1] == "message_end"
    assert all("conversation_id" not in e for e in response.events)
    assert "lines" in str(llm_env.requests[-1].body["messages"])
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("script", "code"),
    [
        (lambda s: s.fail(500, message="boom"), "completion_request_error"),
        (lambda s: s.fail(429, message="slow down"), "rate_limit_error"),
        (lambda s: s.fail(401, message="bad key"), "provider_not_initialize"),
        (lambda s: s.close(), "completion_request_error"),
    ],
)
def test_a_failing_provider_ends_a_chat_with_an_error_event(chat_app, token, llm_env, script, code):
    script(llm_env)
    response = sse_call(
        "POST", run_path(chat_app), token=token, body={"inputs": {"product": "p"}, "query": "q"}
    )
    assert response.names[-1] == "error"
    error = response.events[-1]
    assert error["code"] == code and error["message"]
    assert isinstance(error["status"], int)
    assert Run.objects.get().status == "failed"


def test_without_any_provider_the_run_is_refused_before_the_stream(chat_app, token, settings):
    settings.OPENAI_BASE_URL = ""
    response = sse_call(
        "POST", run_path(chat_app), token=token, body={"inputs": {"product": "p"}, "query": "q"}
    )
    assert response.status == 400
    body = response.json()
    assert body["code"] == "provider_not_initialize" and "OPENAI_BASE_URL" in body["message"]
    assert not Run.objects.exists()


def test_the_llm_demo_app_names_the_setting_to_set(acme, alice, token, settings):
    settings.OPENAI_BASE_URL = ""
    app = import_app(acme, alice, demo_app_path("support_bot.yml"))
    body = {"inputs": {"product": "Acme Cloud"}, "query": "hi"}
    response = sse_call("POST", run_path(app), token=token, body=body)
    assert response.status == 400 and response.json()["code"] == "provider_not_initialize"
    assert "OPENAI_BASE_URL" in response.json()["message"]


# --- disconnect, re-attach, stop ---------------------------------------------------------------


def _advanced_chat_with_llm(acme):
    from apps_runtime.models import WorkflowVersion
    from apps_runtime.tests.factories import make_workflow_app

    app = make_workflow_app(acme, mode=AppMode.ADVANCED_CHAT)
    version = WorkflowVersion.objects.get(app=app)
    version.graph = {
        "nodes": [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
            {
                "id": "llm",
                "data": {
                    "type": "llm",
                    "title": "LLM",
                    "model": {
                        "provider": PROVIDER,
                        "name": "m",
                        "mode": "chat",
                        "completion_params": {},
                    },
                    "prompt_template": [
                        {"role": "system", "text": "Be brief."},
                        {"role": "user", "text": "{{#sys.query#}}"},
                    ],
                    "context": {"enabled": False},
                    "vision": {"enabled": False},
                },
            },
            {
                "id": "answer",
                "data": {"type": "answer", "title": "Answer", "answer": "{{#llm.text#}}"},
            },
        ],
        "edges": [
            {
                "id": "e1",
                "source": "start",
                "target": "llm",
                "sourceHandle": "source",
                "targetHandle": "target",
            },
            {
                "id": "e2",
                "source": "llm",
                "target": "answer",
                "sourceHandle": "source",
                "targetHandle": "target",
            },
        ],
    }
    version.save()
    return app


def test_advanced_chat_streams_the_models_answer_with_its_usage(acme, token, llm_env):
    app = _advanced_chat_with_llm(acme)
    llm_env.answer("Short reply", usage=(9, 2))
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {}, "query": "hey"})
    assert_framed(response)
    assert response.names[-2:] == ["workflow_finished", "message_end"]
    assert "".join(e["answer"] for e in response.events if e["event"] == "message") == "Short reply"
    assert response.events[-1]["metadata"]["usage"]["total_tokens"] == 11
    assert response.events[-2]["data"]["total_tokens"] == 11


def test_a_failing_provider_fails_the_workflow_node_then_the_run(acme, token, llm_env):
    app = _advanced_chat_with_llm(acme)
    llm_env.fail(500, message="down")
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {}, "query": "hey"})
    failed_nodes = [
        e
        for e in response.events
        if e["event"] == "node_finished" and e["data"]["status"] == "failed"
    ]
    assert failed_nodes and failed_nodes[0]["data"]["node_id"] == "llm"
    assert response.names[-2:] == ["workflow_finished", "error"]
    assert response.events[-2]["data"]["status"] == "failed"
    assert response.events[-1]["code"] == "completion_request_error"


def test_stop_mid_stream_ends_stopped_and_aborts_the_provider_call(acme, token, llm_env, api):
    app = _advanced_chat_with_llm(acme)
    llm_env.stall("partial ")

    async def scenario():
        stream = await LiveStream(
            "POST", run_path(app), token=token, body={"inputs": {}, "query": "q"}
        ).start()
        events = await stream.read_until(lambda ev: any(e["event"] == "message" for e in ev))
        task_id = events[0]["task_id"]
        from asgiref.sync import sync_to_async

        stop = await sync_to_async(
            lambda: api(token).post(f"/openapi/v1/apps/{app.id}/tasks/{task_id}/stop")
        )()
        assert stop.status_code == 200 and stop.json()["status"] == "stopping"
        return await stream.read_to_end(timeout=10)

    events = async_to_sync(scenario)()
    names = [e["event"] for e in events]
    assert names[-2:] == ["workflow_finished", "message_end"]
    assert events[-2]["data"]["status"] == "stopped"
    assert events[-1]["metadata"]["stopped"] is True
    assert llm_env.client_gone.wait(5)
    assert Run.objects.get().status == "stopped"


def test_stop_mid_stream_of_a_chat_ends_with_a_stopped_message_end(chat_app, token, llm_env, api):
    llm_env.stall("so far ")

    async def scenario():
        stream = await LiveStream(
            "POST", run_path(chat_app), token=token, body={"inputs": {"product": "p"}, "query": "q"}
        ).start()
        events = await stream.read_until(lambda ev: any(e["event"] == "message" for e in ev))
        from asgiref.sync import sync_to_async

        path = f"/openapi/v1/apps/{chat_app.id}/tasks/{events[0]['task_id']}:stop"
        await sync_to_async(lambda: api(token).post(path))()
        return await stream.read_to_end(timeout=10)

    events = async_to_sync(scenario)()
    assert events[-1]["event"] == "message_end" and events[-1]["metadata"]["stopped"] is True
    assert llm_env.client_gone.wait(5)


def test_a_client_leaving_does_not_stop_the_run_and_it_can_be_reattached(
    echo_workflow, token, llm_env
):
    async def scenario():
        stream = await LiveStream(
            "POST", run_path(echo_workflow), token=token, body={"inputs": {"x": "stay"}}
        ).start()
        events = await stream.read_until(lambda ev: len(ev) >= 1)
        await stream.leave()
        return events[0]

    first = async_to_sync(scenario)()
    run = wait_for_run(first["task_id"])
    assert run.status == "succeeded"
    again = sse_call("GET", events_path(echo_workflow, first["workflow_run_id"]), token=token)
    assert again.status == 200
    assert again.names[0] == "workflow_started" and again.names[-1] == "workflow_finished"
    assert again.events[-1]["data"]["outputs"]["x"] == "stay"
    # by task_id too
    by_task = sse_call("GET", events_path(echo_workflow, first["task_id"]), token=token)
    assert by_task.names == again.names


def test_last_event_id_resumes_exactly_after_that_event(echo_workflow, token):
    full = sse_call("POST", run_path(echo_workflow), token=token, body={"inputs": {"x": "1"}})
    frames = [f for f in full.frames if "data" in f]
    run_id = full.events[0]["workflow_run_id"]
    for k in range(len(frames) - 1):
        again = sse_call(
            "GET",
            events_path(echo_workflow, run_id),
            token=token,
            headers={"Last-Event-ID": frames[k]["id"]},
        )
        assert [f["id"] for f in again.frames if "data" in f] == [f["id"] for f in frames[k + 1 :]]


def test_snapshot_attach_replays_the_run_from_the_database(echo_workflow, token):
    full = sse_call("POST", run_path(echo_workflow), token=token, body={"inputs": {"x": "s"}})
    run_id = full.events[0]["workflow_run_id"]
    snap = sse_call(
        "GET", events_path(echo_workflow, run_id) + "?include_state_snapshot=TRUE", token=token
    )
    assert snap.events[0]["event"] == "workflow_started"
    assert snap.events[0]["data"]["reason"] == "initial"
    nodes = [e for e in snap.events if e["event"] in ("node_started", "node_finished")]
    assert nodes and all("outputs" not in e["data"] and "inputs" not in e["data"] for e in nodes)
    assert snap.names[-1] == "workflow_finished"
    assert snap.events[-1]["data"]["outputs"]["x"] == "s"


def test_a_finished_run_whose_log_is_gone_answers_one_workflow_finished(
    echo_workflow, token, settings
):
    from apps_runtime.events import event_log_reset

    full = sse_call("POST", run_path(echo_workflow), token=token, body={"inputs": {"x": "g"}})
    run_id = full.events[0]["workflow_run_id"]
    # A fresh log (and key prefix): as if retention had dropped the run's stream.
    settings.EVENT_LOG_KEY_PREFIX = f"gone-{uuid.uuid4().hex}"
    event_log_reset()
    try:
        again = sse_call("GET", events_path(echo_workflow, run_id), token=token)
    finally:
        event_log_reset()
    assert again.names == ["workflow_finished"]
    assert again.events[0]["data"]["outputs"]["x"] == "g"
    assert again.events[0]["data"]["status"] == "succeeded"
