"""variable-aggregator (and its legacy type string): the first selector whose value exists wins, a
stored null counts, none → no output; groups resolve independently (dsl.md §4.7)."""

from __future__ import annotations

from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node


def _run(
    agg: dict[str, Any],
    kind: str = "variable-aggregator",
    *,
    a: Any = "A",
    b: Any = "B",
    take: str = "both",
) -> tuple[Any, RecordingHost]:
    """start → (a, b template nodes, possibly skipped by a branch) → aggregator → end."""
    nodes = [
        node("start", "start", variables=[{"variable": "pick", "type": "text-input"}]),
        node(
            "cond",
            "if-else",
            cases=[
                {
                    "case_id": "only_a",
                    "logical_operator": "and",
                    "conditions": [
                        {
                            "variable_selector": ["start", "pick"],
                            "comparison_operator": "is",
                            "value": "a",
                        }
                    ],
                },
                {
                    "case_id": "only_b",
                    "logical_operator": "and",
                    "conditions": [
                        {
                            "variable_selector": ["start", "pick"],
                            "comparison_operator": "is",
                            "value": "b",
                        }
                    ],
                },
            ],
        ),
        node("a", "template-transform", template="{{ v }}", variables=[]),
        node("b", "template-transform", template="{{ v }}", variables=[]),
        node("agg", kind, **agg),
        node(
            "end",
            "end",
            outputs=[
                {"variable": "out", "value_selector": ["agg", "output"]},
                {"variable": "g1", "value_selector": ["agg", "first", "output"]},
                {"variable": "g2", "value_selector": ["agg", "second", "output"]},
            ],
        ),
    ]
    edges = [
        edge("start", "cond"),
        edge("cond", "a", "only_a"),
        edge("cond", "b", "only_b"),
        edge("cond", "a", "false"),
        edge("cond", "b", "false"),
        edge("a", "agg"),
        edge("b", "agg"),
        edge("agg", "end"),
    ]
    nodes[2]["data"]["template"] = str(a)
    nodes[3]["data"]["template"] = str(b)
    host = RecordingHost()
    outcome = run_workflow(
        graph(nodes, edges),
        mode="workflow",
        inputs={"pick": take},
        system={},
        environment={},
        conversation={},
        host=host,
    )
    return outcome, host


@pytest.mark.parametrize("kind", ["variable-aggregator", "variable-assigner"])
@pytest.mark.parametrize(
    ("take", "order", "expected"),
    [
        ("both", [["a", "output"], ["b", "output"]], "A"),  # both ran: the first in the list
        ("both", [["b", "output"], ["a", "output"]], "B"),
        (
            "b",
            [["a", "output"], ["b", "output"]],
            "B",
        ),  # a was skipped: its selector does not exist
        ("a", [["a", "output"], ["b", "output"]], "A"),
        ("a", [["b", "output"]], None),  # nothing exists: no output (end sees null)
        ("both", [["nowhere", "x"], ["b", "output"]], "B"),
    ],
)
def test_first_existing_selector(
    kind: str, take: str, order: list[list[str]], expected: Any
) -> None:
    outcome, host = _run({"output_type": "string", "variables": order}, kind, take=take)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["out"] == expected
    agg_outputs = host.finished()["agg"]["outputs"]
    assert ("output" in agg_outputs) is (expected is not None)


def test_a_stored_null_counts_as_existing() -> None:
    nodes = [
        node(
            "start",
            "start",
            variables=[
                {"variable": "maybe", "type": "text-input"},
                {"variable": "other", "type": "text-input"},
            ],
        ),
        node("agg", "variable-aggregator", variables=[["start", "maybe"], ["start", "other"]]),
        node("end", "end", outputs=[{"variable": "out", "value_selector": ["agg", "output"]}]),
    ]
    host = RecordingHost()
    outcome = run_workflow(
        graph(nodes, [edge("start", "agg"), edge("agg", "end")]),
        mode="workflow",
        inputs={"other": "fallback"},
        system={},
        environment={},
        conversation={},
        host=host,
    )
    assert host.finished()["agg"]["outputs"] == {"output": None}
    assert outcome.outputs == {"out": None}


def test_groups_resolve_independently() -> None:
    agg = {
        "output_type": "string",
        "variables": [],
        "advanced_settings": {
            "group_enabled": True,
            "groups": [
                {
                    "group_name": "first",
                    "output_type": "string",
                    "variables": [["a", "output"], ["b", "output"]],
                    "groupId": "g1",
                },
                {
                    "group_name": "second",
                    "output_type": "string",
                    "variables": [["b", "output"], ["a", "output"]],
                    "groupId": "g2",
                },
            ],
        },
    }
    outcome, _ = _run(agg, take="both")
    assert outcome.outputs == {"out": None, "g1": "A", "g2": "B"}
    outcome, _ = _run(agg, take="a")
    assert outcome.outputs == {"out": None, "g1": "A", "g2": "A"}
