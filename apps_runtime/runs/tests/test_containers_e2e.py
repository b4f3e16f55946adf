"""Iteration, loop and assigner apps end to end through the run endpoint (issue 19): Dify exports
imported as they are (and edited copies of them), run from the API, with the events Dify sends
and conversation variables kept from one turn to the next."""

from __future__ import annotations

from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from apps_runtime.models import AppMode, WorkflowVersion
from apps_runtime.runs.models import Conversation, NodeExecution, Run
from apps_runtime.runs.tests.helpers import run_path, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.runs.tests.test_run_e2e import PROVIDER, import_app
from apps_runtime.tests.factories import make_workflow_app

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def token(alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    return token_for(alice)


def answer_of(response) -> str:
    return "".join(e["answer"] for e in response.events if e["event"] == "message")


# --- iteration --------------------------------------------------------------------------------


def test_the_iteration_and_loop_exports_run_as_dify_runs_them(acme, alice, token):
    """One database test for several runs: each such test costs seconds of flushing on
    PostgreSQL."""
    _the_iteration_export_runs_each_word_in_order(acme, alice, token)
    _the_loop_export_repeats_until_its_break_condition_or_loop_count(acme, alice, token)


def _the_iteration_export_runs_each_word_in_order(acme, alice, token):
    app = import_app(acme, alice, FIXTURES / "iteration_workflow.yml")
    words = ["one", "two", "three", "four", "five"]
    response = sse_call(
        "POST",
        run_path(app),
        token=token,
        body={"inputs": {"words": {"list": words}, "prefix": "#"}},
    )
    assert response.status == 200
    finished = response.events[-1]
    assert finished["event"] == "workflow_finished", response.names
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["outputs"] == {
        "shouted": ["#0:ONE", "#1:TWO", "#2:THREE", "#3:FOUR", "#4:FIVE"]
    }
    run = Run.objects.get()
    names = response.names
    assert names.count("iteration_started") == 1 and names.count("iteration_completed") == 1
    assert names.count("iteration_next") == 5
    for event in response.events:
        if event["event"].startswith("iteration_"):
            assert event["workflow_run_id"] == str(run.workflow_run_id)
            assert event["data"]["node_id"] == "1750000000002"
    started = next(e for e in response.events if e["event"] == "iteration_started")
    assert started["data"]["metadata"] == {"iterator_length": 5}
    inner = [
        e["data"]
        for e in response.events
        if e["event"] == "node_finished" and e["data"]["node_id"] == "1750000000003"
    ]
    assert sorted(d["execution_metadata"]["iteration_index"] for d in inner) == [0, 1, 2, 3, 4]
    assert all(d["iteration_id"] == "1750000000002" for d in inner)
    # The container itself is recorded like any node, from its iteration_* events.
    recorded = NodeExecution.objects.get(run=run, node_id="1750000000002")
    assert recorded.node_type == "iteration" and recorded.status == "succeeded"
    assert recorded.outputs == {"output": finished["data"]["outputs"]["shouted"]}
    assert NodeExecution.objects.filter(run=run, node_id="1750000000003").count() == 5
    _a_non_list_fails_the_iteration_with_a_message(app, token)
    _an_edited_iteration_export_runs_as_edited(acme, alice, token)


def _an_edited_iteration_export_runs_as_edited(acme, alice, token):
    def edit(document):
        nodes = document["workflow"]["graph"]["nodes"]
        shout = next(n for n in nodes if n["id"] == "1750000000003")
        shout["data"]["template"] = "{{ item | length }}"
        iteration = next(n for n in nodes if n["id"] == "1750000000002")
        iteration["data"]["is_parallel"] = False

    app = import_app(acme, alice, FIXTURES / "iteration_workflow.yml", edit)
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"words": {"list": ["ab", "c"]}}}
    )
    assert response.events[-1]["data"]["outputs"] == {"shouted": ["2", "1"]}


def _a_non_list_fails_the_iteration_with_a_message(app, token):
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"words": {"list": "nope"}}}
    )
    assert response.names[-2:] == ["workflow_finished", "error"]
    assert "is not a list" in response.events[-2]["data"]["error"]
    completed = [e for e in response.events if e["event"] == "iteration_completed"]
    assert completed and completed[0]["data"]["status"] == "failed"


def _parallel_llm_iteration(acme):
    app = make_workflow_app(acme, mode=AppMode.WORKFLOW)
    version = WorkflowVersion.objects.get(app=app)

    def edge(source, target):
        return {"id": f"{source}-{target}", "source": source, "target": target}

    version.graph = {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [{"variable": "words", "type": "json_object", "label": "w"}],
                },
            },
            {
                "id": "it",
                "data": {
                    "type": "iteration",
                    "title": "Each",
                    "iterator_selector": ["start", "words", "list"],
                    "output_selector": ["llm", "text"],
                    "start_node_id": "itstart",
                    "is_parallel": True,
                    "parallel_nums": 2,
                },
            },
            {"id": "itstart", "parentId": "it", "data": {"type": "iteration-start"}},
            {
                "id": "llm",
                "parentId": "it",
                "data": {
                    "type": "llm",
                    "title": "LLM",
                    "model": {"provider": PROVIDER, "name": "m", "mode": "chat"},
                    "prompt_template": [{"role": "user", "text": "{{#it.item#}}"}],
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [{"variable": "out", "value_selector": ["it", "output"]}],
                },
            },
        ],
        "edges": [edge("start", "it"), edge("itstart", "llm"), edge("it", "end")],
    }
    version.save()
    return app


def test_a_stopped_parallel_iteration_stops_every_branch_at_its_running_node(
    acme, token, llm_env, api
):
    app = _parallel_llm_iteration(acme)
    llm_env.stall("thinking ")

    async def scenario():
        stream = await LiveStream(
            "POST",
            run_path(app),
            token=token,
            body={"inputs": {"words": {"list": ["a", "b", "c", "d"]}}},
        ).start()
        await stream.read_until(lambda ev: any(e["event"] == "iteration_started" for e in ev))
        await sync_to_async(llm_env.wait_for_requests, thread_sensitive=False)(2)
        task_id = stream.events[0]["task_id"]
        stop = await sync_to_async(
            lambda: api(token).post(f"/openapi/v1/apps/{app.id}/tasks/{task_id}/stop")
        )()
        assert stop.status_code == 200
        return await stream.read_to_end(timeout=10)

    events = async_to_sync(scenario)()
    assert events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["status"] == "stopped"
    completed = [e for e in events if e["event"] == "iteration_completed"]
    assert completed and completed[0]["data"]["status"] == "stopped"
    llm_started = [
        e for e in events if e["event"] == "node_started" and e["data"]["node_id"] == "llm"
    ]
    assert len(llm_started) == 2  # the two running branches; the other items never started
    stopped = [e for e in events if e["event"] == "node_finished" and e["data"]["node_id"] == "llm"]
    assert [e["data"]["status"] for e in stopped] == ["stopped", "stopped"]
    assert len(llm_env.requests) == 2
    assert Run.objects.get().status == "stopped"


# --- loop -------------------------------------------------------------------------------------


def _the_loop_export_repeats_until_its_break_condition_or_loop_count(acme, alice, token):
    app = import_app(acme, alice, FIXTURES / "loop_workflow.yml")
    for times, text, rounds in [(3, "hahaha", 3), (99, "hahahahaha", 5), (0, "", 0)]:
        _loop_run(app, token, times, text, rounds)
    _an_edited_loop_export_runs_as_edited(acme, alice, token)


def _loop_run(app, token, times, text, rounds):
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"word": "ha", "times": times}}
    )
    finished = response.events[-1]
    assert finished["event"] == "workflow_finished", response.names
    assert finished["data"]["outputs"] == {"text": text, "rounds": rounds}
    assert response.names.count("loop_next") == rounds
    completed = next(e for e in response.events if e["event"] == "loop_completed")["data"]
    assert completed["outputs"]["loop_round"] == rounds
    reason = "loop_completed" if times > 5 else "loop_break"
    assert completed["execution_metadata"]["completed_reason"] == reason


def _an_edited_loop_export_runs_as_edited(acme, alice, token):
    def edit(document):
        nodes = document["workflow"]["graph"]["nodes"]
        loop = next(n for n in nodes if n["id"] == "loop")
        loop["data"]["loop_count"] = 2
        grow = next(n for n in nodes if n["id"] == "grow")
        grow["data"]["template"] = "{{ word }}-{{ text }}"

    app = import_app(acme, alice, FIXTURES / "loop_workflow.yml", edit)
    response = sse_call(
        "POST", run_path(app), token=token, body={"inputs": {"word": "x", "times": 9}}
    )
    assert response.events[-1]["data"]["outputs"] == {"text": "x-x-", "rounds": 2}


# --- assigner and conversation variables -------------------------------------------------------


def _turn(app, token, query, conversation_id=None):
    body = {"inputs": {}, "query": query}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = sse_call("POST", run_path(app), token=token, body=body)
    assert response.names[-2:] == ["workflow_finished", "message_end"], response.names
    return response, response.events[-1]["conversation_id"]


def test_a_conversation_variable_set_on_turn_one_is_read_on_turn_two(acme, alice, token):
    app = import_app(acme, alice, FIXTURES / "counter_chat.yml")
    first, conversation_id = _turn(app, token, "hello")
    assert answer_of(first) == "before: |turn 1: - hello"
    assert Conversation.objects.get(pk=conversation_id).variables == {
        "said": ["hello"],
        "turns": 1,
        "last": "hello",
    }
    second, same = _turn(app, token, "again", conversation_id)
    assert same == conversation_id
    assert answer_of(second) == "before: hello|turn 2: - hello\n- again"
    # Another conversation starts from the declared values.
    other, other_id = _turn(app, token, "fresh")
    assert other_id != conversation_id
    assert answer_of(other) == "before: |turn 1: - fresh"
    assert Conversation.objects.get(pk=conversation_id).variables["turns"] == 2
    _an_edited_counter_export_keeps_what_it_was_edited_to_keep(acme, alice, token)
    _a_failing_assigner_fails_the_run_and_keeps_the_variables(acme, alice, token)


def _an_edited_counter_export_keeps_what_it_was_edited_to_keep(acme, alice, token):
    def edit(document):
        nodes = document["workflow"]["graph"]["nodes"]
        count = next(n for n in nodes if n["id"] == "count")
        count["data"]["items"][0]["value"] = 10
        count["data"]["items"][1]["operation"] = "clear"

    app = import_app(acme, alice, FIXTURES / "counter_chat.yml", edit)
    _, conversation_id = _turn(app, token, "a")
    # As if the app declared ``said`` after this conversation began: it starts from its default.
    Conversation.objects.filter(pk=conversation_id).update(variables={"turns": 10, "last": "a"})
    second, _ = _turn(app, token, "b", conversation_id)
    assert answer_of(second) == "before: a|turn 20: "
    # ``said`` is still its default (cleared to what it was), so only the others were written.
    assert Conversation.objects.get(pk=conversation_id).variables == {"turns": 20, "last": "b"}


def _a_failing_assigner_fails_the_run_and_keeps_the_variables(acme, alice, token):
    def edit(document):
        nodes = document["workflow"]["graph"]["nodes"]
        count = next(n for n in nodes if n["id"] == "count")
        count["data"]["items"][0]["value"] = "one"  # a string for a number

    app = import_app(acme, alice, FIXTURES / "counter_chat.yml", edit)
    response = sse_call("POST", run_path(app), token=token, body={"inputs": {}, "query": "x"})
    assert response.events[-2]["data"]["status"] == "failed"
    assert "'+=' needs a number value" in response.events[-2]["data"]["error"]
    conversation_id = response.events[-1]["conversation_id"]
    assert Conversation.objects.get(pk=conversation_id).variables == {
        "said": [],
        "turns": 0,
        "last": "",
    }
