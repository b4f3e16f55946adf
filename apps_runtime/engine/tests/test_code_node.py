"""The ``code`` node (dsl.md §4.10): main's value for every declared type in both languages, the
checks and coercions of that value, error strategies and retries, dependencies, stop, and a
machine without the sandbox."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.nodes.code import OutputInvalid, ValueLimits, check_outputs
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.sandbox.tests.support import needs_sandbox, shrink_limits

ALL_TYPES = {
    "text": {"type": "string", "children": None},
    "count": {"type": "number", "children": None},
    "ratio": {"type": "number", "children": None},
    "flag": {"type": "boolean", "children": None},
    "user": {
        "type": "object",
        "children": {
            "name": {"type": "string", "children": None},
            "tags": {"type": "array[string]", "children": None},
            "address": {"type": "object", "children": {"zip": {"type": "number"}}},
        },
    },
    "free": {"type": "object", "children": None},
    "names": {"type": "array[string]", "children": None},
    "numbers": {"type": "array[number]", "children": None},
    "rows": {"type": "array[object]", "children": None},
    "checks": {"type": "array[boolean]", "children": None},
}

PYTHON_ALL = """
def main(word: str, n: int, file: dict, absent) -> dict:
    return {
        "text": word.upper(),
        "count": n * 2,
        "ratio": n / 3,
        "flag": absent is None,
        "user": {"name": file["filename"], "tags": ["a", "b"], "address": {"zip": 10115},
                 "extra": "dropped"},
        "free": {"any": [1, "two", {"three": 3}]},
        "names": [word, word],
        "numbers": [1, 2.5, n],
        "rows": [{"k": 1}, {"k": 2}],
        "checks": [True, False],
        "undeclared": "ignored",
    }
"""

JAVASCRIPT_ALL = """
function main({word, n, file, absent}) {
  return {
    text: word.toUpperCase(),
    count: n * 2,
    ratio: n / 3,
    flag: absent === null,
    user: {name: file.filename, tags: ['a', 'b'], address: {zip: 10115}, extra: 'dropped'},
    free: {any: [1, 'two', {three: 3}]},
    names: [word, word],
    numbers: [1, 2.5, n],
    rows: [{k: 1}, {k: 2}],
    checks: [true, false],
    undeclared: 'ignored',
  };
}
"""

EXPECTED_ALL = {
    "text": "HI",
    "count": 14,
    "ratio": round(7 / 3, 20),
    "flag": True,
    "user": {"name": "a.txt", "tags": ["a", "b"], "address": {"zip": 10115}},
    "free": {"any": [1, "two", {"three": 3}]},
    "names": ["hi", "hi"],
    "numbers": [1, 2.5, 7],
    "rows": [{"k": 1}, {"k": 2}],
    "checks": [True, False],
}

VARIABLES = [
    {"variable": "word", "value_selector": ["start", "word"]},
    {"variable": "n", "value_selector": ["start", "n"]},
    {"variable": "file", "value_selector": ["start", "file"]},
    {"variable": "absent", "value_selector": ["start", "nothing"]},
]
INPUTS = {
    "word": "hi",
    "n": 7,
    "file": {
        "dify_model_identity": "__dify__file__",
        "filename": "a.txt",
        "type": "document",
        "transfer_method": "remote_url",
        "url": "https://files.example/a.txt",
    },
}


def code_node(node_id: str, language: str, code: str, **extra: Any) -> dict[str, Any]:
    return node(
        node_id,
        "code",
        code_language=language,
        code=code,
        variables=extra.pop("variables", []),
        outputs=extra.pop("outputs", {"result": {"type": "string", "children": None}}),
        **extra,
    )


def start() -> dict[str, Any]:
    return node(
        "start",
        "start",
        variables=[
            {"variable": "word", "type": "text-input"},
            {"variable": "n", "type": "number"},
            {"variable": "file", "type": "file"},
        ],
    )


def end(selector: list[str], name: str = "out") -> dict[str, Any]:
    return node("end", "end", outputs=[{"variable": name, "value_selector": selector}])


def run(g: dict[str, Any], host: RecordingHost | None = None) -> tuple[Any, RecordingHost]:
    host = host or RecordingHost()
    outcome = run_workflow(
        g, mode="workflow", inputs=INPUTS, system={}, environment={}, conversation={}, host=host
    )
    return outcome, host


def one_code_node(language: str, code: str, **extra: Any) -> dict[str, Any]:
    return graph(
        [start(), code_node("code", language, code, **extra), end(["code", "result"])],
        [edge("start", "code"), edge("code", "end")],
    )


@pytest.fixture
def small(settings: Any) -> None:
    shrink_limits(settings)


# --- every declared type, both languages ------------------------------------------------------


@needs_sandbox
@pytest.mark.parametrize(
    ("language", "code"), [("python3", PYTHON_ALL), ("javascript", JAVASCRIPT_ALL)]
)
def test_every_declared_type_in_both_languages(small: None, language: str, code: str) -> None:
    g = graph(
        [
            start(),
            code_node("code", language, code, variables=VARIABLES, outputs=ALL_TYPES),
            node(
                "end",
                "end",
                outputs=[{"variable": k, "value_selector": ["code", k]} for k in ALL_TYPES],
            ),
        ],
        [edge("start", "code"), edge("code", "end")],
    )
    outcome, host = run(g)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == EXPECTED_ALL
    finished = host.finished()["code"]
    assert finished["inputs"]["word"] == "hi" and finished["inputs"]["absent"] is None
    assert finished["outputs"] == EXPECTED_ALL


# --- failures that name the key, through the node ---------------------------------------------


@needs_sandbox
@pytest.mark.parametrize(
    ("language", "code", "message"),
    [
        ("python3", "def main():\n    return {'result': 5}", "output result must be a string"),
        ("javascript", "function main() { return {other: 'x'} }", "output result is missing"),
        ("python3", "def main():\n    return ['no']", "main must return a dict"),
        ("javascript", "function main() { return 3 }", "main must return a dict"),
        ("python3", "def main():\n    raise ValueError('bad input')", "ValueError: bad input"),
        ("javascript", "function main() { throw new TypeError('nope') }", "TypeError: nope"),
        ("python3", "x = 1", "the code defines no main function"),
    ],
)
def test_a_bad_value_or_error_fails_the_node_naming_it(
    small: None, language: str, code: str, message: str
) -> None:
    outcome, host = run(one_code_node(language, code))
    assert outcome.status == "failed"
    assert message in outcome.error
    assert host.finished()["code"]["status"] == "failed"


@needs_sandbox
def test_a_limit_fails_the_node_naming_the_limit(small: None) -> None:
    code = "function main() { console.log('x'.repeat(100000)); return {result: 'x'} }"
    outcome, _ = run(one_code_node("javascript", code))
    assert outcome.status == "failed"
    assert outcome.error == "the code exceeded the output limit of 65536 bytes"


@needs_sandbox
def test_a_missing_dependency_fails_naming_the_package(small: None) -> None:
    code = "def main():\n    return {'result': 'x'}"
    outcome, _ = run(
        one_code_node(
            "python3", code, dependencies=[{"name": "nonexistent-pkg-xyz", "version": "1.0"}]
        )
    )
    assert outcome.status == "failed"
    assert "nonexistent-pkg-xyz" in outcome.error and "not installed" in outcome.error
    outcome, _ = run(one_code_node("python3", code, dependencies=[{"name": "json", "version": ""}]))
    assert outcome.status == "succeeded" and outcome.outputs == {"out": "x"}


# --- error strategies and retries -------------------------------------------------------------


@needs_sandbox
def test_fail_branch_ends_the_node_exception_and_the_run_partial_succeeded(small: None) -> None:
    g = graph(
        [
            start(),
            code_node(
                "code",
                "javascript",
                "function main() { return {result: 1} }",
                error_strategy="fail-branch",
            ),
            node("handler", "template-transform", template="handled", variables=[]),
            node(
                "end",
                "end",
                outputs=[
                    {"variable": "out", "value_selector": ["handler", "output"]},
                    {"variable": "why", "value_selector": ["code", "error_message"]},
                ],
            ),
        ],
        [edge("start", "code"), edge("code", "handler", "fail-branch"), edge("handler", "end")],
    )
    outcome, host = run(g)
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs["out"] == "handled"
    assert "output result must be a string" in outcome.outputs["why"]
    assert host.finished()["code"]["status"] == "exception"


@needs_sandbox
def test_default_value_and_retries(small: None) -> None:
    g = one_code_node(
        "python3",
        "def main():\n    raise RuntimeError('always')",
        error_strategy="default-value",
        default_value=[{"key": "result", "type": "string", "value": "fallback"}],
        retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 0},
    )
    outcome, host = run(g)
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs == {"out": "fallback"}
    assert len(host.named("node_retry")) == 2
    assert host.finished()["code"]["status"] == "exception"
    assert "RuntimeError: always" in host.finished()["code"]["outputs"]["error_message"]


# --- stop ---------------------------------------------------------------------------------------


@needs_sandbox
def test_a_stop_during_a_long_code_node_ends_the_run_stopped_within_a_second(
    small: None, settings: Any
) -> None:
    settings.SANDBOX_WALL_SECONDS = 30
    asked: list[float] = []

    def stop_when(host: RecordingHost) -> bool:
        if (
            not host.named("node_started")
            or host.named("node_started")[-1]["data"]["node_id"] != "code"
        ):
            return False
        if not asked:
            asked.append(time.monotonic() + 0.5)
        return time.monotonic() >= asked[0]

    host = RecordingHost(stop_when=stop_when)
    outcome, _ = run(one_code_node("javascript", "function main() { while (true) {} }"), host)
    assert outcome.status == "stopped"
    assert time.monotonic() - asked[0] < 1
    assert host.finished()["code"]["status"] == "stopped"


# --- no sandbox on this machine -----------------------------------------------------------------


def test_without_the_sandbox_the_node_fails_naming_what_to_install(settings: Any) -> None:
    settings.SANDBOX_BWRAP = "/nonexistent/bwrap"
    outcome, _ = run(one_code_node("python3", "def main():\n    return {'result': 'x'}"))
    assert outcome.status == "failed"
    assert "apt-get install -y bubblewrap" in outcome.error


def test_an_unknown_language_fails_the_node() -> None:
    outcome, _ = run(one_code_node("ruby", "def main; end"))
    assert outcome.status == "failed" and "'ruby' is not supported" in outcome.error


# --- the checks and coercions of main's value (no sandbox needed) --------------------------------

LIMITS = ValueLimits(
    max_string=10,
    min_number=-100,
    max_number=100,
    precision=3,
    max_depth=3,
    max_string_array=2,
    max_object_array=2,
    max_number_array=4,
)


def check(value: Any, outputs: dict[str, Any]) -> dict[str, Any]:
    return check_outputs(value, outputs, LIMITS)


def t(kind: str, children: Any = None) -> dict[str, Any]:
    return {"type": kind, "children": children}


def test_coercions() -> None:
    assert check({"x": 1.23456}, {"x": t("number")}) == {"x": 1.235}
    assert check({"x": "a\x00b"}, {"x": t("string")}) == {"x": "ab"}
    assert check({"x": None}, {"x": t("string")}) == {"x": None}
    assert check({"x": 3, "y": "ignored"}, {"x": t("number")}) == {"x": 3}
    # With no declared outputs every key is kept, each held to the limits of its type.
    assert check({"a": [1, 2], "b": {"c": "d"}}, {}) == {"a": [1, 2], "b": {"c": "d"}}


@pytest.mark.parametrize(
    ("value", "outputs", "message"),
    [
        ({}, {"x": t("string")}, "output x is missing"),
        ({"x": 1}, {"x": t("string")}, "output x must be a string, not a number"),
        ({"x": "1"}, {"x": t("number")}, "output x must be a number, not a string"),
        ({"x": True}, {"x": t("number")}, "output x must be a number, not a boolean"),
        ({"x": 1}, {"x": t("boolean")}, "output x must be a boolean"),
        ({"x": []}, {"x": t("object")}, "output x must be an object, not an array"),
        ({"x": {}}, {"x": t("array[string]")}, "output x must be an array"),
        ({"x": ["a", 1]}, {"x": t("array[string]")}, "output x[1] must be a string"),
        ({"x": [1, "a"]}, {"x": t("array[number]")}, "output x[1] must be a number"),
        ({"x": [1]}, {"x": t("array[object]")}, "output x[0] must be an object"),
        ({"x": [None]}, {"x": t("array[boolean]")}, "output x[0] must be a boolean, not null"),
        ({"x": "x" * 11}, {"x": t("string")}, "output x is 11 characters long; the limit is 10"),
        ({"x": 101}, {"x": t("number")}, "output x is out of range"),
        ({"x": -101.5}, {"x": t("number")}, "output x is out of range"),
        ({"x": math.nan}, {"x": t("number")}, "output x must be a finite number"),
        ({"x": math.inf}, {"x": t("number")}, "output x must be a finite number"),
        ({"x": ["a"] * 3}, {"x": t("array[string]")}, "output x has 3 items"),
        ({"x": [{}] * 3}, {"x": t("array[object]")}, "output x has 3 items"),
        ({"x": [1] * 5}, {"x": t("array[number]")}, "output x has 5 items"),
        ({"x": [True] * 5}, {"x": t("array[boolean]")}, "output x has 5 items"),
        (
            {"x": {"y": {"z": 1}}},
            {"x": t("object", {"y": t("object", {"q": t("number")})})},
            "output x.y.q is missing",
        ),
        (
            {"x": {"y": {"z": "long string!"}}},
            {"x": t("object", {"y": t("object", {"z": t("string")})})},
            "output x.y.z is 12 characters long",
        ),
        ({"x": {"y": {"z": {"w": 1}}}}, {"x": t("object")}, "nested deeper than 3 levels"),
        ({"x": {"y": ["s", "t", "u"]}}, {"x": t("object")}, "output x.y has 3 items"),
        ({"x": {"y": 1000}}, {}, "output x.y is out of range"),
        ("text", {"x": t("string")}, "main must return a dict"),
    ],
)
def test_a_value_that_does_not_fit_names_the_key(
    value: Any, outputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(OutputInvalid) as raised:
        check(value, outputs)
    assert message in raised.value.message


def test_the_default_limits_are_difys(settings: Any) -> None:
    limits = ValueLimits.from_settings()
    assert (limits.max_string, limits.max_number, limits.min_number) == (
        80_000,
        2**63 - 1,
        -(2**63),
    )
    assert (limits.precision, limits.max_depth) == (20, 5)
    assert (limits.max_string_array, limits.max_object_array, limits.max_number_array) == (
        30,
        30,
        1000,
    )
    with pytest.raises(OutputInvalid, match="out of range"):
        check_outputs({"x": 2**63}, {"x": t("number")})
    assert check_outputs({"x": "y" * 80_000}, {"x": t("string")})["x"] == "y" * 80_000
