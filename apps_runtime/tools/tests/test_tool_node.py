"""The ``tool`` node in a workflow: arguments from constants, templates and selectors, its outputs,
error strategies and retries; and end to end through the run endpoint, with the import warning,
``app_unavailable``, ``check-dependencies`` and ``describe`` for a provider the workspace lacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from apps_runtime.engine import run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost
from apps_runtime.engine.tests.httpserver import Reply
from apps_runtime.runs.models import Run
from apps_runtime.runs.tests.helpers import run_path, sse_call
from apps_runtime.tools.models import ToolCallRecord
from apps_runtime.tools.registry import tool_resolve
from apps_runtime.tools.tests.helpers import (
    api_provider,
    edge,
    graph,
    import_dsl,
    node,
    time_node,
    workflow_dsl,
)


@pytest.fixture
def frozen(monkeypatch):
    moment = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    return moment


def start(*variables: str) -> dict:
    return node(
        "start",
        "start",
        variables=[{"variable": v, "label": v, "type": "text-input"} for v in variables],
    )


def end(*outputs: tuple[str, list[str]]) -> dict:
    return node(
        "end",
        "end",
        outputs=[{"variable": name, "value_selector": selector} for name, selector in outputs],
    )


def test_time_tool_node_takes_constants_templates_and_configurations(frozen):
    host = RecordingHost()
    host.tools["current_time"] = tool_resolve(
        None, {"provider_id": "langgenius/time/time", "tool_name": "current_time"}
    )
    tool = time_node(
        tool_configurations={"timezone": "Asia/Tokyo"},
        tool_parameters={"format": {"type": "mixed", "value": "{{#start.prefix#}} %H:%M"}},
    )
    outcome = run_workflow(
        graph(
            [start("prefix"), tool, end(("when", ["now", "text"]), ("json", ["now", "json"]))],
            [edge("start", "now"), edge("now", "end")],
        ),
        mode="workflow",
        inputs={"prefix": "Tokyo:"},
        system={},
        environment={},
        conversation={},
        host=host,
    )
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"when": "Tokyo: 00:09", "json": []}
    assert host.tool_calls == [
        ("current_time", {"timezone": "Asia/Tokyo", "format": "Tokyo: %H:%M"})
    ]


def test_a_failing_tool_is_retried_then_takes_the_fail_branch():
    from apps_runtime.tools.registry import BoundTool
    from apps_runtime.tools.types import ToolError, ToolSpec

    attempts = []

    def flaky(arguments, deadline, should_stop):
        attempts.append(arguments)
        raise ToolError("the API answered HTTP 503: busy")

    host = RecordingHost()
    spec = ToolSpec("lookup", "", {"type": "object", "properties": {"n": {"type": "integer"}}})
    host.tools["lookup"] = BoundTool(spec=spec, provider_label="svc", call=flaky)
    tool = node(
        "t",
        "tool",
        provider_name="svc",
        tool_name="lookup",
        tool_parameters={"n": {"type": "variable", "value": ["start", "n"]}},
        retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 0},
        error_strategy="fail-branch",
    )
    fallback = node("fb", "template-transform", template="fallback", variables=[])
    outcome = run_workflow(
        graph(
            [start("n"), tool, fallback, end(("out", ["fb", "output"]))],
            [
                edge("start", "t"),
                edge("t", "end"),
                edge("t", "fb", "fail-branch"),
                edge("fb", "end"),
            ],
        ),
        mode="workflow",
        inputs={"n": "7"},
        system={},
        environment={},
        conversation={},
        host=host,
    )
    assert attempts == [{"n": 7}] * 3  # the template text was turned into the schema's integer
    assert outcome.outputs == {"out": "fallback"}
    finished = host.finished()["t"]
    assert finished["status"] == "exception"
    assert finished["outputs"]["error_message"] == "the API answered HTTP 503: busy"


# -- end to end ---------------------------------------------------------------------------------


@pytest.fixture
def token(alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    return token_for(alice)


def pets_workflow() -> str:
    get_pet = node(
        "pet",
        "tool",
        provider_type="api",
        provider_id="5b6c-not-ours",
        provider_name="pets",
        tool_name="getPet",
        tool_parameters={
            "pet_id": {"type": "variable", "value": ["start", "pet"]},
            "X-Trace": {"type": "constant", "value": "run-trace"},
        },
    )
    return workflow_dsl(
        [
            start("pet"),
            get_pet,
            time_node(),
            end(("name", ["pet", "name"]), ("text", ["pet", "text"]), ("now", ["now", "text"])),
        ],
        [edge("start", "pet"), edge("pet", "now"), edge("now", "end")],
    )


@pytest.mark.django_db(transaction=True)
def test_a_workflow_with_tool_nodes_runs_through_the_run_endpoint(
    acme, alice, token, pets, frozen, api
):
    api_provider(acme, pets)
    result = import_dsl(acme, alice, pets_workflow())
    assert result.warnings == []
    response = sse_call("POST", run_path(result.app), token=token, body={"inputs": {"pet": "4"}})
    assert response.status == 200, response.body[:300]
    finished = response.events[-1]
    assert finished["event"] == "workflow_finished", response.names
    assert finished["data"]["status"] == "succeeded", finished["data"]
    outputs = finished["data"]["outputs"]
    assert outputs["name"] == "pet-4" and outputs["now"] == "2026-03-14 15:09:26 UTC"
    assert pets.requests[-1].headers["x-trace"] == "run-trace"
    run = Run.objects.get()
    calls = list(ToolCallRecord.objects.filter(run=run).order_by("created_at", "tool"))
    assert {(c.provider, c.tool, c.status) for c in calls} == {
        ("pets", "getPet", "succeeded"),
        ("langgenius/time/time", "current_time", "succeeded"),
    }
    describe = api(token).get(f"/openapi/v1/apps/{result.app.id}/describe").json()
    assert describe["info"]["tool_providers"] == [
        {
            "provider_type": "api",
            "provider_id": "5b6c-not-ours",
            "provider_name": "pets",
            "tools": ["getPet"],
            "available": True,
        },
        {
            "provider_type": "builtin",
            "provider_id": "langgenius/time/time",
            "provider_name": "time",
            "tools": ["current_time"],
            "available": True,
        },
    ]


@pytest.mark.django_db
def test_a_provider_the_workspace_lacks_warns_refuses_and_is_listed(acme, alice, token, api):
    result = import_dsl(acme, alice, pets_workflow())
    assert result.warnings == [
        "the workspace has no tool provider(s) pets; runs of this app answer app_unavailable"
        " until they are added in the admin"
    ]
    response = sse_call("POST", run_path(result.app), token=token, body={"inputs": {"pet": "1"}})
    assert response.status == 400
    assert response.json()["code"] == "app_unavailable"
    assert "pets" in response.json()["message"]
    assert not Run.objects.exists()
    leaked = api(token).get(f"/openapi/v1/apps/{result.app.id}/check-dependencies").json()
    assert leaked == {
        "leaked_dependencies": [
            {
                "type": "tool_provider",
                "value": {
                    "provider_type": "api",
                    "provider_id": "5b6c-not-ours",
                    "provider_name": "pets",
                    "tools": ["getPet"],
                },
                "current_identifier": None,
            }
        ]
    }


@pytest.mark.django_db(transaction=True)
def test_a_failing_api_tool_fails_the_node_and_the_run(acme, alice, token, pets):
    pets.route("/pets/2", Reply(500, b"boom", {"Content-Type": "text/plain"}))
    api_provider(acme, pets)
    result = import_dsl(acme, alice, pets_workflow())
    response = sse_call("POST", run_path(result.app), token=token, body={"inputs": {"pet": "2"}})
    assert response.names[-2:] == ["workflow_finished", "error"]
    assert response.events[-2]["data"]["status"] == "failed"
    assert "HTTP 500: boom" in response.events[-1]["message"]


@pytest.mark.django_db
def test_an_agent_node_with_another_strategy_warns_and_is_unavailable(acme, alice, token):
    agent = node(
        "agent",
        "agent",
        agent_strategy_provider_name="someone/planner/planner",
        agent_strategy_name="plan_and_execute",
        agent_parameters={},
    )
    result = import_dsl(
        acme,
        alice,
        workflow_dsl([start(), agent, end()], [edge("start", "agent"), edge("agent", "end")]),
    )
    assert result.warnings == [
        "the engine cannot run agent strategy(ies) plan_and_execute; runs of this app answer"
        " app_unavailable"
    ]
    response = sse_call("POST", run_path(result.app), token=token, body={"inputs": {}})
    assert response.status == 400 and response.json()["code"] == "app_unavailable"
    assert response.json()["message"].endswith("plan_and_execute")
    # describe says the same as the run, from the same check
    describe = APIClient()
    describe.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    info = describe.get(f"/openapi/v1/apps/{result.app.id}/describe", {"fields": "info"}).json()
    assert info["info"]["unavailable"] == response.json()["message"]


@pytest.mark.django_db
def test_a_plain_chat_app_carrying_agent_tools_needs_no_providers(acme, alice):
    import yaml

    from apps_runtime.tools.tests.helpers import agent_dsl

    document = yaml.safe_load(agent_dsl())
    document["app"]["mode"] = "chat"
    result = import_dsl(acme, alice, yaml.safe_dump(document))
    assert result.warnings == []
