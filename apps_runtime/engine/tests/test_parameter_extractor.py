"""parameter-extractor: tool calling (function_call) or a JSON answer (prompt); values coerced to
their declared types, select options enforced, a missing required parameter is __is_success 0
with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.nodes.parameter_extractor import TOOL_NAME
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.providers.types import ToolCall, Usage

MODEL = {"provider": "openai_api_compatible", "name": "m-2", "mode": "chat"}
PARAMETERS = [
    {"name": "city", "type": "string", "description": "Destination city", "required": True},
    {"name": "nights", "type": "number", "description": "", "required": False},
    {"name": "pets", "type": "bool", "description": "Travelling with pets", "required": False},
    {
        "name": "room",
        "type": "select",
        "options": ["single", "double"],
        "description": "",
        "required": False,
    },
    {"name": "tags", "type": "array[string]", "description": "", "required": False},
]
OUTPUT_NAMES = ["city", "nights", "pets", "room", "tags", "__is_success", "__reason", "__usage"]


def _run(
    replies: list[Any], *, query: str = "Two nights in Oslo with my dog", **data: Any
) -> tuple[Any, RecordingHost]:
    data.setdefault("model", MODEL)
    data.setdefault("parameters", PARAMETERS)
    data.setdefault("query", ["start", "q"])
    nodes = [
        node("start", "start", variables=[{"variable": "q", "type": "paragraph"}]),
        node("pe", "parameter-extractor", **data),
        node(
            "end",
            "end",
            outputs=[{"variable": n, "value_selector": ["pe", n]} for n in OUTPUT_NAMES],
        ),
    ]
    host = RecordingHost(replies=list(replies))
    outcome = run_workflow(
        graph(nodes, [edge("start", "pe"), edge("pe", "end")]),
        mode="workflow",
        inputs={"q": query},
        system={},
        environment={},
        conversation={},
        host=host,
    )
    return outcome, host


def _call(arguments: Any) -> list[ToolCall]:
    import json

    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return [ToolCall("call_1", TOOL_NAME, text)]


EMPTY = {"city": "", "nights": 0, "pets": False, "room": "", "tags": []}


@pytest.mark.parametrize(
    ("arguments", "values", "reason"),
    [
        (
            {"city": "Oslo", "nights": 2, "pets": True, "room": "double", "tags": ["a"]},
            {"city": "Oslo", "nights": 2, "pets": True, "room": "double", "tags": ["a"]},
            None,
        ),
        (
            {"city": "Oslo", "nights": "2.5", "pets": "yes", "tags": ["x", 3]},
            {"city": "Oslo", "nights": 2.5, "pets": True, "tags": ["x", "3"]},
            None,
        ),
        ({"city": 42, "nights": "3"}, {"city": "42", "nights": 3}, None),
        ({"nights": 1}, {"nights": 1}, "Parameter city is required"),
        ({"city": None}, {}, "Parameter city is required"),
        (
            {"city": "Oslo", "room": "suite"},
            {"city": "Oslo"},
            "Parameter room must be one of: single, double",
        ),
        ({"city": "Oslo", "nights": "many"}, {"city": "Oslo"}, "Parameter nights must be a number"),
        (
            {"city": "Oslo", "pets": "maybe"},
            {"city": "Oslo"},
            "Parameter pets must be true or false",
        ),
        (
            {"city": "Oslo", "tags": "x"},
            {"city": "Oslo"},
            "Parameter tags must be an array of string",
        ),
        ({"city": ["Oslo"]}, {}, "Parameter city must be text"),
        ('{"city": "Bergen", "nights": 4', {"city": "Bergen", "nights": 4}, None),  # repaired
        ("", {}, "Parameter city is required"),
        ("[1, 2]", {}, "The model did not answer with the parameters; Parameter city is required"),
    ],
)
def test_function_call_values_are_coerced_and_checked(arguments, values, reason):
    outcome, _host = _run([_call(arguments)])
    assert outcome.status == "succeeded", outcome.error
    out = outcome.outputs
    assert {k: out[k] for k in EMPTY} == {**EMPTY, **values}
    assert out["__reason"] == reason
    assert out["__is_success"] == (0 if reason else 1)


def test_function_call_offers_the_tool_and_forces_it():
    outcome, host = _run(
        [_call({"city": "Oslo"})], instruction="Dates are in {{#start.q#}}; be literal"
    )
    call = host.calls[0]
    assert call.tool_choice == {"type": "function", "function": {"name": TOOL_NAME}}
    assert call.tools == [
        {
            "type": "function",
            "function": {
                "name": TOOL_NAME,
                "description": "Record the parameters found in the user's input.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "Destination city"},
                        "nights": {"type": "number"},
                        "pets": {"type": "boolean", "description": "Travelling with pets"},
                        "room": {"type": "string", "enum": ["single", "double"]},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["city"],
                },
            },
        }
    ]
    system, user = call.messages
    assert system["role"] == "system" and TOOL_NAME in system["content"]
    assert "Dates are in Two nights in Oslo with my dog; be literal" in system["content"]
    assert user == {"role": "user", "content": "Two nights in Oslo with my dog"}
    assert outcome.outputs["__usage"]["total_tokens"] == 4


def test_function_call_without_a_tool_call_reads_json_text():
    outcome, _host = _run([['{"city": "Rome"}']])
    assert outcome.outputs["city"] == "Rome" and outcome.outputs["__is_success"] == 1


def test_prompt_mode_asks_for_json_and_reads_it():
    outcome, host = _run(
        [(['Here you go:\n```json\n{"city": "Lima", "nights": 5}\n```'], Usage(30, 9, 39))],
        reasoning_mode="prompt",
    )
    call = host.calls[0]
    assert call.tools is None and call.tool_choice is None
    assert '"required": ["city"]' in call.messages[0]["content"]
    assert outcome.outputs["city"] == "Lima" and outcome.outputs["nights"] == 5
    assert outcome.outputs["__usage"]["total_tokens"] == 39
    assert outcome.usage.total_tokens == 39


def test_prompt_mode_with_prose_only_is_not_a_success():
    outcome, _host = _run([["I could not find anything."]], reasoning_mode="prompt")
    assert outcome.status == "succeeded"
    assert outcome.outputs["__is_success"] == 0
    assert "Parameter city is required" in outcome.outputs["__reason"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ([], "declares no parameters"),
        ([{"name": "__reason", "type": "string"}], "reserved"),
        ([{"name": "x", "type": "date"}], "unknown type 'date'"),
        ([{"type": "string"}], "Parameter 1 has no name"),
    ],
)
def test_bad_declarations_fail_the_node_clearly(parameters, message):
    outcome, host = _run([], parameters=parameters)
    assert outcome.status == "failed" and message in outcome.error
    assert host.calls == []


def test_other_array_types():
    parameters = [
        {"name": "n", "type": "array[number]", "required": True},
        {"name": "b", "type": "array[boolean]", "required": True},
        {"name": "o", "type": "array[object]", "required": True},
    ]
    nodes_out = {"n": ["1", 2.5], "b": [True, "false"], "o": [{"a": 1}]}
    host = RecordingHost(replies=[_call(nodes_out)])
    outcome = run_workflow(
        graph(
            [
                node("start", "start", variables=[]),
                node(
                    "pe",
                    "parameter-extractor",
                    model=MODEL,
                    parameters=parameters,
                    query=["sys", "q"],
                ),
                node(
                    "end",
                    "end",
                    outputs=[{"variable": k, "value_selector": ["pe", k]} for k in "nbo"],
                ),
            ],
            [edge("start", "pe"), edge("pe", "end")],
        ),
        mode="workflow",
        inputs={},
        system={"q": "text"},
        environment={},
        conversation={},
        host=host,
    )
    assert outcome.outputs == {"n": [1, 2.5], "b": [True, False], "o": [{"a": 1}]}
