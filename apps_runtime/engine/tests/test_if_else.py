"""Every if-else operator for every value type (dsl.md §4.6), as a table; then the node's case
selection, and/or, legacy form, rendered values, file attributes and array[file] sub-conditions."""

from __future__ import annotations

from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.conditions import ConditionError, compare
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node

TRUE_TABLE: list[tuple[str, Any, Any, bool]] = [
    # string
    ("contains", "hello world", "world", True),
    ("contains", "hello", "x", False),
    ("contains", "", "a", False),
    ("contains", None, "a", False),
    ("not contains", "hello", "x", True),
    ("not contains", "hello", "ell", False),
    ("not contains", None, "a", True),
    ("not contains", "", "a", True),
    ("start with", "hello", "he", True),
    ("start with", "hello", "lo", False),
    ("start with", "", "a", False),
    ("start with", None, "a", False),
    ("end with", "hello", "lo", True),
    ("end with", "hello", "he", False),
    ("end with", None, "x", False),
    ("is", "abc", "abc", True),
    ("is", "abc", "abd", False),
    ("is", None, "x", False),
    ("is not", "abc", "abd", True),
    ("is not", "abc", "abc", False),
    ("is not", None, "x", False),
    ("empty", "", None, True),
    ("empty", "a", None, False),
    ("not empty", "a", None, True),
    ("not empty", "", None, False),
    # number
    ("=", 3, "3", True),
    ("=", 3, "4", False),
    ("=", 3.5, "3.5", True),
    ("=", 3.0, "3", True),
    ("=", None, "1", False),
    ("≠", 3, "4", True),
    ("≠", 3, "3", False),
    ("≠", None, "3", False),
    (">", 5, "3", True),
    (">", 3, "5", False),
    (">", 3, "3", False),
    (">", 2.5, "2.4", True),
    (">", None, "1", False),
    ("<", 3, "5", True),
    ("<", 5, "3", False),
    ("<", None, "1", False),
    ("≥", 3, "3", True),
    ("≥", 2, "3", False),
    ("≥", None, "3", False),
    ("≤", 3, "3", True),
    ("≤", 4, "3", False),
    ("≤", 2.5, "2.5", True),
    ("empty", 0, None, True),
    ("empty", 7, None, False),
    ("not empty", 0, None, False),
    ("not empty", 7, None, True),
    # boolean
    ("is", True, "true", True),
    ("is", True, True, True),
    ("is", True, 1, True),
    ("is", False, "true", False),
    ("is", False, "false", True),
    ("is not", False, "true", True),
    ("is not", True, "1", False),
    ("=", True, "true", True),
    ("empty", False, None, True),
    # arrays
    ("contains", ["a", "b"], "a", True),
    ("contains", ["a"], "c", False),
    ("contains", [], "a", False),
    ("contains", [1, 2], "1", False),  # the expected string is not the number
    ("contains", [True, False], True, True),
    ("not contains", ["a"], "a", False),
    ("not contains", ["a"], "b", True),
    ("not contains", [], "a", True),
    ("empty", [], None, True),
    ("empty", [1], None, False),
    ("not empty", [{"a": 1}], None, True),
    ("not empty", [], None, False),
    ("empty", {}, None, True),
    ("not empty", {"k": 1}, None, True),
    ("all of", ["a", "b", "c"], ["a", "b"], True),
    ("all of", ["a"], ["a", "b"], False),
    ("all of", [], ["a"], False),
    ("all of", None, ["a"], False),
    ("all of", "abc", ["a", "c"], True),
    # membership
    ("in", "a", ["a", "b"], True),
    ("in", "c", ["a", "b"], False),
    ("in", "", ["a"], False),
    ("in", None, ["a"], False),
    ("not in", "c", ["a"], True),
    ("not in", "a", ["a"], False),
    ("not in", None, ["a"], True),
    # null / exists
    ("null", None, None, True),
    ("null", "", None, False),
    ("not null", "", None, True),
    ("not null", None, None, False),
    ("exists", {"transfer_method": "remote_url", "url": "http://x/y.png"}, None, True),
    ("exists", None, None, False),
    ("not exists", None, None, True),
    ("not exists", {"transfer_method": "remote_url", "url": "u"}, None, False),
]


@pytest.mark.parametrize(("operator", "actual", "expected", "result"), TRUE_TABLE)
def test_operator_table(operator: str, actual: Any, expected: Any, result: bool) -> None:
    assert compare(operator, actual, expected) is result


@pytest.mark.parametrize(
    ("operator", "actual", "expected"),
    [
        ("start with", 5, "5"),
        ("end with", ["a"], "a"),
        ("=", 3, "3.5"),  # an integer variable compared with a fraction
        ("=", 3, "abc"),
        ("=", "text", "text"),  # "=" compares numbers and booleans only
        (">", "5", "3"),
        (">", 5, "abc"),
        ("<", True, "1"),
        ("contains", 5, "5"),
        ("is", 5, "5"),
        ("is", True, "maybe"),
        ("in", "a", "a"),
        ("all of", ["a"], "a"),
        ("all of", 5, ["a"]),
        ("bogus", "a", "a"),
    ],
)
def test_type_errors_fail_the_node(operator: str, actual: Any, expected: Any) -> None:
    with pytest.raises(ConditionError):
        compare(operator, actual, expected)


def _branch_graph(
    if_data: dict[str, Any], handles: list[str], var_type: str = "text-input"
) -> dict[str, Any]:
    nodes = [
        node(
            "start",
            "start",
            variables=[{"variable": "x", "type": var_type}, {"variable": "y", "type": "number"}],
        ),
        node("cond", "if-else", **if_data),
    ]
    edges = [edge("start", "cond")]
    for handle in handles:
        end_id = f"end_{handle}"
        nodes.append(
            node(
                end_id,
                "end",
                outputs=[{"variable": "branch", "value_selector": ["cond", "selected_case_id"]}],
            )
        )
        edges.append(edge("cond", end_id, handle))
    return graph(nodes, edges)


def _run(
    g: dict[str, Any], inputs: dict[str, Any], system: dict[str, Any] | None = None
) -> tuple[Any, RecordingHost]:
    host = RecordingHost()
    outcome = run_workflow(
        g,
        mode="workflow",
        inputs=inputs,
        system=system or {},
        environment={},
        conversation={},
        host=host,
    )
    return outcome, host


def cond(selector: list[str], operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"variable_selector": selector, "comparison_operator": operator, "value": value, **extra}


CASES = {
    "cases": [
        {
            "case_id": "true",
            "logical_operator": "and",
            "conditions": [
                cond(["start", "x"], "start with", "a"),
                cond(["start", "y"], ">", "10"),
            ],
        },
        {
            "case_id": "c2",
            "logical_operator": "or",
            "conditions": [cond(["start", "x"], "is", "b"), cond(["start", "y"], "=", "7")],
        },
    ]
}


@pytest.mark.parametrize(
    ("inputs", "branch"),
    [
        ({"x": "abc", "y": 11}, "true"),
        ({"x": "abc", "y": 10}, "false"),  # and: second condition fails, c2 neither
        ({"x": "b", "y": 1}, "c2"),
        ({"x": "zzz", "y": 7}, "c2"),  # or
        ({"x": "zzz", "y": 1}, "false"),
    ],
)
def test_cases_in_order_then_else(inputs: dict[str, Any], branch: str) -> None:
    outcome, host = _run(_branch_graph(CASES, ["true", "c2", "false"]), inputs)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"branch": branch}
    assert host.ran()[-1] == f"end_{branch}"
    finished = host.finished()["cond"]
    assert finished["outputs"] == {"result": branch != "false", "selected_case_id": branch}


def test_the_first_passing_case_wins() -> None:
    data = {
        "cases": [
            {
                "case_id": "one",
                "logical_operator": "and",
                "conditions": [cond(["start", "x"], "not empty")],
            },
            {
                "case_id": "two",
                "logical_operator": "and",
                "conditions": [cond(["start", "x"], "is", "a")],
            },
        ]
    }
    outcome, _ = _run(_branch_graph(data, ["one", "two", "false"]), {"x": "a"})
    assert outcome.outputs == {"branch": "one"}


def test_legacy_single_case_form() -> None:
    data = {
        "logical_operator": "or",
        "conditions": [cond(["start", "x"], "is", "yes"), cond(["start", "x"], "is", "y")],
    }
    assert _run(_branch_graph(data, ["true", "false"]), {"x": "y"})[0].outputs == {"branch": "true"}
    assert _run(_branch_graph(data, ["true", "false"]), {"x": "n"})[0].outputs == {
        "branch": "false"
    }


def test_and_short_circuits_before_a_failing_condition() -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["start", "x"], "is", "no"), cond(["start", "x"], "=", "1")],
            }
        ]
    }
    outcome, _ = _run(_branch_graph(data, ["true", "false"]), {"x": "yes"})
    assert outcome.outputs == {"branch": "false"}
    outcome, _ = _run(_branch_graph(data, ["true", "false"]), {"x": "no"})
    assert outcome.status == "failed"  # '=' on text is a type error once it is evaluated


def test_values_are_rendered_before_comparison() -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["start", "x"], "is", "hi {{#sys.user_id#}}")],
            }
        ]
    }
    outcome, _ = _run(_branch_graph(data, ["true", "false"]), {"x": "hi u-1"}, {"user_id": "u-1"})
    assert outcome.outputs == {"branch": "true"}


def test_missing_variable_fails_the_node_even_for_exists_checks() -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["nowhere", "v"], "is", "a")],
            }
        ]
    }
    outcome, host = _run(_branch_graph(data, ["true", "false"]), {"x": "a"})
    assert outcome.status == "failed"
    assert "not found" in (outcome.error or "")
    assert host.finished()["cond"]["status"] == "failed"
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["nowhere", "v"], "not exists")],
            }
        ]
    }
    # dsl.md 4.6 (graphon): a variable that does not exist fails the node whatever the operator;
    # an input the user left out exists as null, so exists/not exists still answer for it.
    outcome, host = _run(_branch_graph(data, ["true", "false"]), {"x": "a"})
    assert outcome.status == "failed"
    assert "Variable ['nowhere', 'v'] not found" in (outcome.error or "")
    assert host.finished()["cond"]["error"] == outcome.error


PDF = {
    "dify_model_identity": "__dify__file__",
    "type": "document",
    "transfer_method": "remote_url",
    "url": "https://files.example/report.pdf",
    "name": "report.pdf",
    "extension": ".pdf",
    "mime_type": "application/pdf",
    "size": 2048,
}
PNG = {
    "dify_model_identity": "__dify__file__",
    "type": "image",
    "transfer_method": "local_file",
    "url": "https://files.example/cat.png",
    "name": "cat.png",
    "extension": "png",
    "mime_type": "image/png",
    "size": 100,
}


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "file", "branch"),
    [
        ("extension", "is", "pdf", PDF, "true"),
        ("extension", "is", ".pdf", PDF, "true"),
        ("extension", "is not", "pdf", PNG, "true"),
        ("extension", "contains", "pd", PDF, "true"),
        ("name", "start with", "report", PDF, "true"),
        ("name", "end with", ".png", PDF, "false"),
        ("mime_type", "contains", "image", PNG, "true"),
        ("size", ">", "1000", PDF, "true"),
        ("size", "≤", "1000", PDF, "false"),
        ("size", "<", "1000", PNG, "true"),
        ("size", "≥", "100", PNG, "true"),
        ("type", "in", ["image", "document"], PDF, "true"),
        ("type", "not in", ["image"], PDF, "true"),
        ("transfer_method", "in", ["local_file"], PDF, "false"),
        ("url", "contains", "files.example", PNG, "true"),
    ],
)
def test_file_attribute_conditions(
    attribute: str, operator: str, value: Any, file: dict[str, Any], branch: str
) -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["start", "x", attribute], operator, value)],
            }
        ]
    }
    g = _branch_graph(data, ["true", "false"], var_type="file")
    outcome, _ = _run(g, {"x": file})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"branch": branch}


@pytest.mark.parametrize(
    ("operator", "sub", "files", "branch"),
    [
        (
            "contains",
            {
                "logical_operator": "and",
                "conditions": [{"key": "extension", "comparison_operator": "is", "value": "pdf"}],
            },
            [PNG, PDF],
            "true",
        ),
        (
            "contains",
            {
                "logical_operator": "and",
                "conditions": [{"key": "extension", "comparison_operator": "is", "value": "doc"}],
            },
            [PNG, PDF],
            "false",
        ),
        # "not" in the sub-operator: every file must pass
        (
            "not contains",
            {
                "logical_operator": "and",
                "conditions": [
                    {"key": "extension", "comparison_operator": "is not", "value": "exe"}
                ],
            },
            [PNG, PDF],
            "true",
        ),
        (
            "not contains",
            {
                "logical_operator": "and",
                "conditions": [
                    {"key": "type", "comparison_operator": "not in", "value": ["image"]}
                ],
            },
            [PNG, PDF],
            "false",
        ),
        (
            "all of",
            {
                "logical_operator": "or",
                "conditions": [
                    {"key": "type", "comparison_operator": "in", "value": ["audio"]},
                    {"key": "size", "comparison_operator": ">", "value": "1000"},
                ],
            },
            [PNG, PDF],
            "true",
        ),
        (
            "all of",
            {
                "logical_operator": "and",
                "conditions": [
                    {"key": "type", "comparison_operator": "in", "value": ["audio"]},
                    {"key": "size", "comparison_operator": ">", "value": "1000"},
                ],
            },
            [PNG, PDF],
            "false",
        ),
    ],
)
def test_array_of_files_sub_conditions(
    operator: str, sub: dict[str, Any], files: list[Any], branch: str
) -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["start", "x"], operator, None, sub_variable_condition=sub)],
            }
        ]
    }
    outcome, _ = _run(_branch_graph(data, ["true", "false"], var_type="file-list"), {"x": files})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"branch": branch}


@pytest.mark.parametrize(
    ("operator", "files", "branch"),
    [("empty", [], "true"), ("not empty", [PDF], "true"), ("empty", [PDF], "false")],
)
def test_array_of_files_empty(operator: str, files: list[Any], branch: str) -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [cond(["start", "x"], operator)],
            }
        ]
    }
    outcome, _ = _run(_branch_graph(data, ["true", "false"], var_type="file-list"), {"x": files})
    assert outcome.outputs == {"branch": branch}
