"""list-operator: filter with the if-else comparisons, extract by serial, sort, limit; result,
first_record, last_record."""

from __future__ import annotations

from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node

FILES = [
    {
        "transfer_method": "remote_url",
        "url": "https://e.example/a.pdf",
        "name": "a.pdf",
        "type": "document",
        "size": 300,
    },
    {
        "transfer_method": "remote_url",
        "url": "https://e.example/b.png",
        "name": "b.png",
        "type": "image",
        "size": 100,
    },
    {
        "transfer_method": "remote_url",
        "url": "https://e.example/c.PDF",
        "name": "c.PDF",
        "type": "document",
        "size": 200,
    },
]


def _run(value: Any, **data: Any) -> Any:
    nodes = [
        node("start", "start", variables=[]),
        node("lo", "list-operator", variable=["sys", "items"], **data),
        node(
            "end",
            "end",
            outputs=[
                {"variable": k, "value_selector": ["lo", k]}
                for k in ("result", "first_record", "last_record")
            ],
        ),
    ]
    system = {"n": 2} if value is ... else {"items": value, "n": 2}
    return run_workflow(
        graph(nodes, [edge("start", "lo"), edge("lo", "end")]),
        mode="workflow",
        inputs={},
        system=system,
        environment={},
        conversation={},
        host=RecordingHost(),
    )


def _filter(*conditions: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "enabled": True,
        "conditions": [
            {"key": key, "comparison_operator": op, "value": value} for key, op, value in conditions
        ],
    }


@pytest.mark.parametrize(
    ("value", "data", "result"),
    [
        ([3, 1, 2], {}, [3, 1, 2]),
        ([5, 1, 7, 3], {"filter_by": _filter(("", ">", "2"))}, [5, 7, 3]),
        ([5, 1, 7, 3], {"filter_by": _filter(("", "≥", "3"), ("", "≠", "7"))}, [5, 3]),
        (["apple", "banana", "cherry"], {"filter_by": _filter(("", "contains", "an"))}, ["banana"]),
        (["apple", "banana"], {"filter_by": _filter(("", "start with", "a"))}, ["apple"]),
        (["a", "b", "c"], {"filter_by": _filter(("", "in", ["a", "c"]))}, ["a", "c"]),
        (["a", "", "c"], {"filter_by": _filter(("", "not empty", None))}, ["a", "c"]),
        ([True, False, True], {"filter_by": _filter(("", "is", "true"))}, [True, True]),
        # templated value: {{#sys.n#}} is 2
        ([1, 2, 3], {"filter_by": _filter(("", "=", "{{#sys.n#}}"))}, [2]),
        (FILES, {"filter_by": _filter(("type", "in", ["document"]))}, [FILES[0], FILES[2]]),
        (FILES, {"filter_by": _filter(("extension", "is", "pdf"))}, [FILES[0]]),
        (FILES, {"filter_by": _filter(("size", "<", "250"))}, [FILES[1], FILES[2]]),
        (FILES, {"filter_by": _filter(("name", "end with", ".png"))}, [FILES[1]]),
        ([{"k": 2}, {"k": 9}], {"filter_by": _filter(("k", ">", "5"))}, [{"k": 9}]),
        ([3, 1, 2], {"order_by": {"enabled": True, "key": "", "value": "asc"}}, [1, 2, 3]),
        ([3, 1, 2], {"order_by": {"enabled": True, "value": "desc"}}, [3, 2, 1]),
        (
            FILES,
            {"order_by": {"enabled": True, "key": "size", "value": "asc"}},
            [FILES[1], FILES[2], FILES[0]],
        ),
        (
            [{"k": 2}, {}, {"k": 1}],
            {"order_by": {"enabled": True, "key": "k", "value": "desc"}},
            [{"k": 2}, {"k": 1}, {}],
        ),
        ([1, 2, 3, 4], {"limit": {"enabled": True, "size": 2}}, [1, 2]),
        ([1, 2, 3, 4], {"limit": {"enabled": False, "size": 2}}, [1, 2, 3, 4]),
        ([1, 2], {"limit": {"enabled": True, "size": 0}}, []),
        (["a", "b", "c"], {"extract_by": {"enabled": True, "serial": "2"}}, ["b"]),
        (["a", "b", "c"], {"extract_by": {"enabled": True, "serial": "{{#sys.n#}}"}}, ["b"]),
        (
            [9, 4, 7, 1, 8],
            {
                "filter_by": _filter(("", ">", "2")),
                "order_by": {"enabled": True, "value": "asc"},
                "limit": {"enabled": True, "size": 3},
            },
            [4, 7, 8],
        ),
        (None, {}, []),
        ([], {"order_by": {"enabled": True, "value": "asc"}}, []),
    ],
)
def test_operations(value, data, result):
    outcome = _run(value, **data)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {
        "result": result,
        "first_record": result[0] if result else None,
        "last_record": result[-1] if result else None,
    }


@pytest.mark.parametrize(
    ("value", "data", "message"),
    [
        (..., {}, "['sys', 'items'] not found"),
        ("text", {}, "is not an array"),
        ([1, 2], {"extract_by": {"enabled": True, "serial": "3"}}, "Serial 3 is out of range"),
        ([1, 2], {"extract_by": {"enabled": True, "serial": "0"}}, "Serial 0 is out of range"),
        ([1, 2], {"extract_by": {"enabled": True, "serial": "x"}}, "whole number"),
        ([1, 2], {"filter_by": _filter(("", "start with", "a"))}, "'start with' needs a string"),
        ([1, 2], {"filter_by": _filter(("", "bigger", "a"))}, "Unsupported comparison operator"),
        ([1, "a"], {"order_by": {"enabled": True, "value": "asc"}}, "cannot be sorted"),
        ([1], {"limit": {"enabled": True, "size": "many"}}, "whole number"),
    ],
)
def test_failures_name_the_problem(value, data, message):
    outcome = _run(value, **data)
    assert outcome.status == "failed"
    assert message in outcome.error
