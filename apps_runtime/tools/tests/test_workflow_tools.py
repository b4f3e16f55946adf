"""Workflow providers: a published workflow app of the same workspace as a tool, its start
variables the parameters, its outputs the result."""

from __future__ import annotations

import pytest

from accounts.audit import Actor
from apps_runtime.tools.invoke import tool_invoke
from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.registry import tool_resolve
from apps_runtime.tools.services import ToolProviderInvalid, tool_provider_save
from apps_runtime.tools.tests.helpers import edge, import_dsl, node, workflow_dsl
from apps_runtime.tools.types import ToolError
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def greeter_dsl(*extra_nodes, extra_edges=()) -> str:
    start = node(
        "start",
        "start",
        variables=[
            {"variable": "who", "label": "Who to greet", "type": "text-input", "required": True},
            {"variable": "tone", "type": "select", "options": ["warm", "dry"]},
            {"variable": "times", "type": "number"},
        ],
    )
    greet = node(
        "greet",
        "template-transform",
        template="{{ tone or 'plain' }} hello, {{ who }}",
        variables=[
            {"variable": "who", "value_selector": ["start", "who"]},
            {"variable": "tone", "value_selector": ["start", "tone"]},
        ],
    )
    end = node(
        "end",
        "end",
        outputs=[
            {"variable": "greeting", "value_selector": ["greet", "output"]},
            {"variable": "times", "value_selector": ["start", "times"]},
        ],
    )
    return workflow_dsl(
        [start, greet, end, *extra_nodes],
        [edge("start", "greet"), edge("greet", "end"), *extra_edges],
    )


def register(workspace, app, name=""):
    provider = ToolProvider(workspace=workspace, kind="workflow", name=name, workflow_app=app)
    return tool_provider_save(provider, actor=Actor.system("test"))


def test_a_published_workflow_becomes_a_tool_and_answers_its_outputs(acme, alice):
    app = import_dsl(acme, alice, greeter_dsl()).app
    provider = register(acme, app)
    assert provider.name == "Tools workflow"
    (tool,) = provider.tools
    assert tool["name"] == "Tools_workflow"
    assert tool["parameters"] == {
        "type": "object",
        "properties": {
            "who": {"type": "string", "description": "Who to greet"},
            "tone": {"type": "string", "enum": ["warm", "dry"]},
            "times": {"type": "number"},
        },
        "required": ["who"],
    }
    bound = tool_resolve(acme.id, {"provider_name": "Tools workflow", "tool_name": tool["name"]})
    output = tool_invoke(
        bound, {"who": "Ada", "tone": "warm", "times": 2}, workspace_id=acme.id, run_id=None
    )
    assert output.variables == {"greeting": "warm hello, Ada", "times": 2}
    assert output.json == [{"greeting": "warm hello, Ada", "times": 2}]
    with pytest.raises(ToolError, match="'who' is a required property"):
        tool_invoke(bound, {"tone": "dry"}, workspace_id=acme.id, run_id=None)


def test_only_a_published_workflow_of_the_same_workspace_can_be_registered(acme, alice):
    other = Workspace.objects.create(name="Other")
    theirs = import_dsl(other, alice, greeter_dsl()).app
    with pytest.raises(ToolProviderInvalid, match="provider's workspace"):
        register(acme, theirs, name="theirs")
    ours = import_dsl(acme, alice, greeter_dsl()).app
    ours.published_workflow = None
    ours.save(update_fields=["published_workflow"])
    with pytest.raises(ToolProviderInvalid, match="no published workflow"):
        register(acme, ours, name="draft")
    assert not ToolProvider.objects.exists()


def test_a_workflow_tool_that_calls_itself_stops_at_the_nesting_limit(acme, alice):
    app = import_dsl(acme, alice, greeter_dsl()).app
    register(acme, app, name="loop")
    # The published graph now calls its own tool before answering.
    version = app.published_workflow
    graph = version.graph
    graph["nodes"].append(
        node(
            "again",
            "tool",
            provider_type="workflow",
            provider_name="loop",
            tool_name="loop",
            tool_parameters={"who": {"type": "variable", "value": ["start", "who"]}},
        )
    )
    graph["edges"] = [edge("start", "again"), edge("again", "greet"), edge("greet", "end")]
    version.graph = graph
    version.save(update_fields=["graph"])
    bound = tool_resolve(acme.id, {"provider_name": "loop", "tool_name": "loop"})
    with pytest.raises(ToolError, match="nest at most 3 deep"):
        tool_invoke(bound, {"who": "Ada"}, workspace_id=acme.id, run_id=None)


def test_the_tools_a_workflow_tool_calls_are_audited_with_the_callers_run(acme, alice):
    from apps_runtime.runs.models import Run
    from apps_runtime.tools.models import ToolCallRecord
    from apps_runtime.tools.tests.helpers import time_node

    app = import_dsl(acme, alice, greeter_dsl()).app
    version = app.published_workflow
    graph = version.graph
    graph["nodes"].append(time_node("clock"))
    graph["edges"] = [edge("start", "clock"), edge("clock", "greet"), edge("greet", "end")]
    version.graph = graph
    version.save(update_fields=["graph"])
    register(acme, app, name="greeter")
    run = Run.objects.create(
        app=app, workspace=acme, mode="workflow", subject_type="account", subject_email="a@b.c"
    )
    bound = tool_resolve(acme.id, {"provider_name": "greeter", "tool_name": "greeter"})
    tool_invoke(bound, {"who": "Ada"}, workspace_id=acme.id, run_id=run.id)
    records = ToolCallRecord.objects.order_by("created_at")
    assert [(r.tool, r.run_id) for r in records] == [
        ("current_time", run.id),
        ("greeter", run.id),
    ]
