"""If-else (dsl.md §4.6): every operator against every value type, edge cases included."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from apps_runtime.engine.conditions import (
    COMPARISON_OPERATORS,
    ConditionError,
    IfElseResult,
    evaluate_if_else,
)
from apps_runtime.engine.variables import MISSING

PDF = {
    "type": "document",
    "transfer_method": "remote_url",
    "url": "https://x.example/a.pdf",
    "name": "a.pdf",
    "extension": ".pdf",
    "mime_type": "application/pdf",
    "size": 2048,
}
PNG = {
    "type": "image",
    "transfer_method": "local_file",
    "url": "https://x.example/b.png",
    "name": "b.png",
    "extension": "png",
    "mime_type": "image/png",
    "size": 10,
}


def pool(values: dict[str, Any]) -> Any:
    """A resolver over ``{"node.var": value}``; a 3-long selector reaches a file attribute."""

    def resolve(selector: Sequence[str]) -> Any:
        key = ".".join(selector[:2])
        if key not in values:
            return MISSING
        value = values[key]
        for part in selector[2:]:
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
        return value

    return resolve


def render_from(values: dict[str, Any]) -> Any:
    def render(text: str) -> str:
        return re.sub(r"\{\{#([\w.]+)#\}\}", lambda m: str(values.get(m.group(1), "")), text)

    return render


def check(actual: Any, operator: str, value: Any, **extra: Any) -> bool:
    condition = {"variable_selector": ["n", "v"], "comparison_operator": operator, "value": value}
    condition.update(extra)
    result = evaluate_if_else(
        {"cases": [{"case_id": "true", "logical_operator": "and", "conditions": [condition]}]},
        pool({"n.v": actual}),
        lambda text: text,
    )
    return result.selected_case_id == "true"


CASES = [
    # --- string --------------------------------------------------------------------------
    ("hello world", "contains", "lo w", True),
    ("hello world", "contains", "xyz", False),
    ("", "contains", "", False),  # actual falsy → false, even for an empty needle
    (None, "contains", "a", False),
    ("n 3 n", "contains", 3, True),  # expected is str()'d
    ("hello", "not contains", "xyz", True),
    ("hello", "not contains", "ell", False),
    ("", "not contains", "a", True),  # actual falsy → true
    (None, "not contains", "a", True),
    ("hello", "start with", "he", True),
    ("hello", "start with", "lo", False),
    ("", "start with", "", False),
    (None, "start with", "a", False),
    ("hello", "end with", "lo", True),
    ("hello", "end with", "he", False),
    (None, "end with", "a", False),
    ("abc", "is", "abc", True),
    ("abc", "is", "ABC", False),
    ("abc", "is not", "ABC", True),
    ("abc", "is not", "abc", False),
    (None, "is", "abc", False),  # null → false for both
    (None, "is not", "abc", False),
    ("", "is", "", True),
    ("", "empty", None, True),
    ("x", "empty", None, False),
    ("", "not empty", None, False),
    ("x", "not empty", None, True),
    (None, "empty", None, True),
    (None, "null", None, True),
    ("", "null", None, False),
    ("", "not null", None, True),
    (None, "not null", None, False),
    ("b", "in", ["a", "b"], True),
    ("c", "in", ["a", "b"], False),
    ("", "in", ["", "a"], False),  # actual falsy → in is false
    ("c", "not in", ["a", "b"], True),
    ("a", "not in", ["a", "b"], False),
    ("", "not in", ["", "a"], True),  # actual falsy → not in is true
    ("hello world", "all of", ["hello", "world"], True),
    ("hello world", "all of", ["hello", "moon"], False),
    ("", "all of", ["a"], False),
    # --- number --------------------------------------------------------------------------
    (3, "=", "3", True),
    (3, "=", "4", False),
    (3, "=", 3, True),
    (3, "=", 3.5, False),
    (3.5, "=", "3.5", True),
    (3.0, "=", "3", True),
    (0, "=", "0", True),
    (None, "=", "3", False),  # null → false for both
    (None, "≠", "3", False),
    (3, "≠", "4", True),
    (3, "≠", "3", False),
    (2.5, "≠", "2.5", False),
    (5, ">", "3", True),
    (3, ">", "3", False),
    (3, ">", "2.5", True),  # int actual, non-integral text → compared as a float
    (3, ">", "3.5", False),
    (3.5, ">", "3", True),
    (None, ">", "3", False),
    (2, "<", "3", True),
    (3, "<", "3", False),
    (-1, "<", "0", True),
    (3, "≥", "3", True),
    (2, "≥", "3", False),
    (3, "≤", "3", True),
    (4, "≤", "3.9", False),
    (10, ">", 9, True),
    (None, "<", "1", False),
    (None, "≥", "1", False),
    (None, "≤", "1", False),
    (0, "empty", None, True),  # number 0 is "empty"
    (0.0, "empty", None, True),
    (7, "empty", None, False),
    (0, "not empty", None, False),
    (7, "not empty", None, True),
    (0, "null", None, False),
    (0, "not null", None, True),
    # --- boolean -------------------------------------------------------------------------
    (True, "is", "true", True),
    (True, "is", True, True),
    (True, "is", "1", True),
    (True, "is", 1, True),
    (True, "is", "false", False),
    (False, "is", "0", True),
    (False, "is", " false ", True),
    (False, "is not", "true", True),
    (False, "is not", False, False),
    (True, "is not", 0, True),
    (True, "=", "true", True),
    (False, "=", "1", False),
    (False, "≠", "1", True),
    (False, "empty", None, True),  # false is "empty"
    (True, "not empty", None, True),
    (False, "null", None, False),
    (False, "not null", None, True),
    # --- arrays --------------------------------------------------------------------------
    (["a", "b"], "contains", "b", True),
    (["a", "b"], "contains", "c", False),
    (["ab"], "contains", "a", False),  # membership, not substring
    ([], "contains", "a", False),
    (["a", "b"], "not contains", "c", True),
    (["a", "b"], "not contains", "a", False),
    ([], "not contains", "a", True),
    ([1, 2, 3], "contains", "3", False),  # expected is text, the array holds numbers
    ([1, 2, 3], "contains", 3, True),
    ([True, False], "contains", "true", True),  # booleans: expected converted via JSON
    ([True, True], "contains", "false", False),
    ([False], "not contains", "1", True),
    (["a", "b", "c"], "all of", ["a", "c"], True),
    (["a", "b"], "all of", ["a", "c"], False),
    (["a"], "all of", [], True),
    ([], "all of", ["a"], False),
    ([True, False], "all of", ["true", "false"], True),
    ([True], "all of", ["true", "false"], False),
    ([], "empty", None, True),
    ([0], "empty", None, False),
    ([], "not empty", None, False),
    ([{"a": 1}], "not empty", None, True),
    ([], "null", None, False),
    # --- object --------------------------------------------------------------------------
    ({}, "empty", None, True),
    ({"a": 1}, "empty", None, False),
    ({}, "not empty", None, False),
    ({"a": 1}, "not empty", None, True),
    ({}, "not null", None, True),
    # --- file ----------------------------------------------------------------------------
    (PDF, "exists", None, True),
    (None, "exists", None, False),
    (PDF, "not exists", None, False),
    (None, "not exists", None, True),
    ("", "exists", None, True),  # only null does not exist
    (PDF, "not empty", None, True),
]


@pytest.mark.parametrize(("actual", "operator", "value", "expected"), CASES)
def test_operator_table(actual: Any, operator: str, value: Any, expected: bool) -> None:
    assert check(actual, operator, value) is expected


def test_table_covers_every_operator() -> None:
    assert {row[1] for row in CASES} == COMPARISON_OPERATORS
    assert len(COMPARISON_OPERATORS) == 21


TYPE_ERRORS = [
    (3, "contains", "3", "'contains' needs a string or an array, got number"),
    ({"a": 1}, "contains", "a", "got object"),
    ({"a": 1}, "not contains", "a", "got object"),
    (True, "contains", "true", "got boolean"),
    (3, "start with", "3", "'start with' needs a string, got number"),
    (["a"], "end with", "a", "'end with' needs a string, got array"),
    ("abc", "start with", None, "needs a text value, got null"),
    (3, "is", "3", "'is' needs a string or a boolean, got number"),
    (["a"], "is not", "a", "'is not' needs a string or a boolean, got array"),
    (3, "=", "3.5", "'=' cannot compare an integer with '3.5'"),
    (3, "=", "abc", "cannot compare an integer with 'abc'"),
    (3.5, "≠", "abc", "cannot compare a number with 'abc'"),
    (3, "=", None, "cannot compare a number with null"),
    (3, "=", ["3"], "cannot compare a number with array"),
    ("3", "=", "3", "'=' needs a number or a boolean, got string"),
    ("3", ">", "2", "'>' needs a number, got string"),
    (True, ">", "0", "'>' needs a number, got boolean"),
    (3, "<", "abc", "'<' cannot compare a number with 'abc'"),
    (3, "≥", None, "cannot compare a number with null"),
    (3, "≤", True, "cannot compare a number with boolean"),
    ("a", "in", "a,b", "'in' needs a list of values, got string"),
    ("a", "not in", "a", "'not in' needs a list of values, got string"),
    (["a"], "all of", "a", "'all of' needs a list of values, got string"),
    (3, "all of", ["3"], "'all of' needs an array or a string, got number"),
    (True, "is", "yes", "Cannot compare a boolean with 'yes'"),
    (True, "is", "2.5", "Cannot compare a boolean with '2.5'"),
    (True, "=", ["true"], "'=' cannot compare a boolean with array"),
]


@pytest.mark.parametrize(("actual", "operator", "value", "message"), TYPE_ERRORS)
def test_type_errors_fail_the_node(actual: Any, operator: str, value: Any, message: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        check(actual, operator, value)


@pytest.mark.parametrize("operator", ["is null", "is not null", "==", "", None, "regex"])
def test_unknown_operator_is_an_error(operator: Any) -> None:
    with pytest.raises(ConditionError, match="Unsupported comparison operator"):
        check("x", operator, "x")


@pytest.mark.parametrize("operator", sorted(COMPARISON_OPERATORS))
def test_missing_variable_fails_for_every_operator(operator: str) -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "conditions": [
                    {
                        "variable_selector": ["start", "nope"],
                        "comparison_operator": operator,
                        "value": "x",
                    }
                ],
            }
        ]
    }
    with pytest.raises(ConditionError, match=re.escape("Variable ['start', 'nope'] not found")):
        evaluate_if_else(data, pool({}), lambda text: text)


def test_invalid_selector_is_an_error() -> None:
    data = {
        "cases": [
            {
                "case_id": "true",
                "conditions": [{"variable_selector": ["only"], "comparison_operator": "empty"}],
            }
        ]
    }
    with pytest.raises(ConditionError, match="Invalid variable selector"):
        evaluate_if_else(data, pool({}), lambda text: text)


# --- rendering of the expected value ----------------------------------------------------------


def test_string_value_is_rendered_before_comparison() -> None:
    values = {"sys.query": "world", "start.n": 3}
    data = {
        "cases": [
            {
                "case_id": "c1",
                "conditions": [
                    {
                        "variable_selector": ["a", "text"],
                        "comparison_operator": "contains",
                        "value": "o {{#sys.query#}}",
                    },
                    {
                        "variable_selector": ["a", "num"],
                        "comparison_operator": "=",
                        "value": "{{#start.n#}}",
                    },
                    {
                        "variable_selector": ["a", "flag"],
                        "comparison_operator": "is",
                        "value": "{{#a.t#}}",
                    },
                ],
            }
        ]
    }
    resolve = pool({"a.text": "hello world", "a.num": 3, "a.flag": True})
    result = evaluate_if_else(data, resolve, render_from({**values, "a.t": "true"}))
    assert result == IfElseResult("c1", True, result.cases)
    assert result.cases[0].results == (True, True, True)


def test_list_value_is_used_as_is_not_rendered() -> None:
    rendered: list[str] = []

    def render(text: str) -> str:
        rendered.append(text)
        return "changed"

    data = {
        "cases": [
            {
                "case_id": "c1",
                "conditions": [
                    {
                        "variable_selector": ["a", "t"],
                        "comparison_operator": "in",
                        "value": ["{{#x.y#}}"],
                    }
                ],
            }
        ]
    }
    assert evaluate_if_else(data, pool({"a.t": "{{#x.y#}}"}), render).selected_case_id == "c1"
    assert rendered == []


# --- cases, and/or, legacy form ---------------------------------------------------------------


def cond(var: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"variable_selector": ["n", var], "comparison_operator": operator, "value": value}


RESOLVE = pool({"n.a": "yes", "n.b": "", "n.num": 5})


def test_first_passing_case_wins_in_order() -> None:
    data = {
        "cases": [
            {"case_id": "true", "logical_operator": "and", "conditions": [cond("b", "not empty")]},
            {
                "case_id": "uuid-2",
                "logical_operator": "and",
                "conditions": [cond("a", "is", "yes")],
            },
            {"case_id": "uuid-3", "logical_operator": "and", "conditions": [cond("num", ">", "1")]},
        ]
    }
    result = evaluate_if_else(data, RESOLVE, str)
    assert (result.selected_case_id, result.result) == ("uuid-2", True)
    assert [c.case_id for c in result.cases] == ["true", "uuid-2"]  # case 3 never evaluated


def test_no_passing_case_selects_false() -> None:
    data = {
        "cases": [
            {"case_id": "true", "conditions": [cond("b", "not empty")]},
            {"case_id": "x", "conditions": [cond("num", "<", "1")]},
        ]
    }
    result = evaluate_if_else(data, RESOLVE, str)
    assert (result.selected_case_id, result.result) == ("false", False)
    assert [c.passed for c in result.cases] == [False, False]


@pytest.mark.parametrize(
    ("operator", "conditions", "passed", "evaluated"),
    [
        ("and", [cond("a", "is", "yes"), cond("num", "=", "5")], True, 2),
        ("and", [cond("a", "is", "yes"), cond("num", "=", "6")], False, 2),
        ("and", [cond("a", "is", "no"), cond("missing", "empty")], False, 1),  # short-circuit
        ("or", [cond("a", "is", "no"), cond("num", "=", "5")], True, 2),
        ("or", [cond("a", "is", "no"), cond("num", "=", "6")], False, 2),
        ("or", [cond("a", "is", "yes"), cond("missing", "empty")], True, 1),  # short-circuit
        ("and", [], True, 0),
        ("or", [], False, 0),
    ],
)
def test_and_or_short_circuit(
    operator: str, conditions: list[dict[str, Any]], passed: bool, evaluated: int
) -> None:
    data = {"cases": [{"case_id": "k", "logical_operator": operator, "conditions": conditions}]}
    result = evaluate_if_else(data, RESOLVE, str)
    assert result.result is passed
    assert result.selected_case_id == ("k" if passed else "false")
    assert len(result.cases[0].results) == evaluated


def test_missing_variable_after_an_undecided_condition_fails() -> None:
    data = {
        "cases": [
            {
                "case_id": "k",
                "logical_operator": "and",
                "conditions": [cond("a", "is", "yes"), cond("missing", "empty")],
            }
        ]
    }
    with pytest.raises(ConditionError, match="not found"):
        evaluate_if_else(data, RESOLVE, str)


@pytest.mark.parametrize(
    ("data", "selected"),
    [
        ({"logical_operator": "and", "conditions": [cond("a", "is", "yes")]}, "true"),
        ({"logical_operator": "and", "conditions": [cond("a", "is", "no")]}, "false"),
        (
            {"logical_operator": "or", "conditions": [cond("a", "is", "no"), cond("num", ">", 4)]},
            "true",
        ),
        ({"conditions": [cond("a", "is", "yes"), cond("num", ">", 5)]}, "false"),  # and default
        ({"cases": [], "conditions": [cond("a", "is", "yes")]}, "true"),
        ({}, "false"),
        ({"cases": []}, "false"),
    ],
)
def test_legacy_single_case_form(data: dict[str, Any], selected: str) -> None:
    assert evaluate_if_else(data, RESOLVE, str).selected_case_id == selected


def test_case_id_falls_back_to_id() -> None:
    data = {"cases": [{"id": "abc", "conditions": [cond("a", "is", "yes")]}]}
    assert evaluate_if_else(data, RESOLVE, str).selected_case_id == "abc"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cases": "x"}, "'cases' must be a list"),
        ({"cases": [{"conditions": []}]}, "needs a case_id"),
        (
            {"cases": [{"case_id": "a", "logical_operator": "xor", "conditions": []}]},
            "Unsupported logical operator",
        ),
        ({"cases": [{"case_id": "a", "conditions": "x"}]}, "must be a list of conditions"),
    ],
)
def test_malformed_node_data(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        evaluate_if_else(data, RESOLVE, str)


# --- file attributes (3-long selectors) -------------------------------------------------------

FILES = pool({"s.doc": PDF, "s.pic": PNG, "s.none": None, "s.docs": [PDF, PNG], "s.empty": []})


def file_check(selector: list[str], operator: str, value: Any, **extra: Any) -> bool:
    condition = {"variable_selector": selector, "comparison_operator": operator, "value": value}
    condition.update(extra)
    data = {"cases": [{"case_id": "true", "conditions": [condition]}]}
    return evaluate_if_else(data, FILES, str).selected_case_id == "true"


@pytest.mark.parametrize(
    ("selector", "operator", "value", "expected"),
    [
        (["s", "doc", "name"], "start with", "a.", True),
        (["s", "doc", "name"], "end with", ".png", False),
        (["s", "doc", "url"], "contains", "x.example", True),
        (["s", "doc", "mime_type"], "is", "application/pdf", True),
        (["s", "doc", "mime_type"], "not contains", "image", True),
        (["s", "doc", "related_id"], "empty", None, False),  # absent attribute → not found
        (["s", "doc", "extension"], "is", "pdf", True),  # leading dot normalised
        (["s", "doc", "extension"], "is", ".pdf", True),
        (["s", "pic", "extension"], "is", ".png", True),
        (["s", "pic", "extension"], "is not", "pdf", True),
        (["s", "doc", "extension"], "contains", "pd", True),
        (["s", "doc", "extension"], "not contains", "png", True),
        (["s", "doc", "size"], ">", "1024", True),
        (["s", "doc", "size"], "≥", "2048", True),
        (["s", "doc", "size"], "<", "1024", False),
        (["s", "pic", "size"], "≤", "10", True),
        (["s", "doc", "type"], "in", ["image", "document"], True),
        (["s", "pic", "type"], "not in", ["document"], True),
        (["s", "pic", "transfer_method"], "in", ["remote_url"], False),
        (["s", "doc", "transfer_method"], "not in", ["local_file"], True),
        (["s", "doc"], "exists", None, True),
        (["s", "none"], "exists", None, False),
        (["s", "none"], "not exists", None, True),
    ],
)
def test_file_and_file_attributes(
    selector: list[str], operator: str, value: Any, expected: bool
) -> None:
    if selector[-1] == "related_id":
        with pytest.raises(ConditionError, match="not found"):
            file_check(selector, operator, value)
        return
    assert file_check(selector, operator, value) is expected


# --- array[file] with sub-conditions ----------------------------------------------------------


def sub(logical: str, *conditions: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "logical_operator": logical,
        "conditions": [
            {"key": key, "comparison_operator": op, "value": value} for key, op, value in conditions
        ],
    }


@pytest.mark.parametrize(
    ("variable", "operator", "sub_condition", "expected"),
    [
        # any file passes (operator text without "not")
        ("docs", "contains", sub("and", ("extension", "is", "pdf")), True),
        ("docs", "contains", sub("and", ("extension", "is", ".png")), True),
        ("docs", "contains", sub("and", ("extension", "is", "doc")), False),
        ("docs", "contains", sub("and", ("type", "in", ["image"])), True),
        ("docs", "contains", sub("and", ("name", "start with", "b")), True),
        ("docs", "contains", sub("and", ("size", ">", "4096")), False),
        # "not" in the operator text: every file must pass
        ("docs", "contains", sub("and", ("extension", "is not", "doc")), True),
        ("docs", "contains", sub("and", ("extension", "is not", "pdf")), False),
        ("docs", "contains", sub("and", ("mime_type", "not contains", "video")), True),
        ("docs", "contains", sub("and", ("type", "not in", ["image"])), False),
        # sub logical operator combines the sub results
        (
            "docs",
            "contains",
            sub("and", ("extension", "is", "pdf"), ("type", "in", ["image"])),
            True,
        ),
        (
            "docs",
            "contains",
            sub("and", ("extension", "is", "pdf"), ("size", ">", "999999")),
            False,
        ),
        ("docs", "contains", sub("or", ("extension", "is", "doc"), ("size", "<", "100")), True),
        ("docs", "contains", sub("or", ("extension", "is", "doc"), ("size", ">", "1e9")), False),
        # the outer operator itself is not applied: not contains / all of behave the same way
        ("docs", "not contains", sub("and", ("extension", "is", "pdf")), True),
        ("docs", "all of", sub("and", ("extension", "is", "pdf")), True),
        # empty list: any() is false, all() is true
        ("empty", "contains", sub("and", ("extension", "is", "pdf")), False),
        ("empty", "contains", sub("and", ("extension", "is not", "pdf")), True),
        ("none", "contains", sub("and", ("extension", "is", "pdf")), False),
    ],
)
def test_array_of_files_sub_conditions(
    variable: str, operator: str, sub_condition: dict[str, Any], expected: bool
) -> None:
    assert (
        file_check(["s", variable], operator, None, sub_variable_condition=sub_condition)
        is expected
    )


@pytest.mark.parametrize(
    ("variable", "operator", "expected"),
    [
        ("docs", "empty", False),
        ("docs", "not empty", True),
        ("empty", "empty", True),
        ("empty", "not empty", False),
    ],
)
def test_array_of_files_empty(variable: str, operator: str, expected: bool) -> None:
    assert file_check(["s", variable], operator, None) is expected


def test_array_of_files_without_sub_conditions_is_an_error() -> None:
    with pytest.raises(ConditionError, match="needs sub-conditions"):
        file_check(["s", "docs"], "contains", "pdf")
    with pytest.raises(ConditionError, match="needs sub-conditions"):
        file_check(["s", "empty"], "contains", "pdf", varType="array[file]")


@pytest.mark.parametrize(
    ("sub_condition", "message"),
    [
        (sub("and", ("colour", "is", "red")), "Unknown file attribute"),
        (sub("and", ("extension", "is", ["pdf"])), "extension sub-condition must be text"),
        (sub("and", ("name", "matches", "a")), "Unsupported comparison operator"),
        (sub("xor", ("name", "is", "a")), "Unsupported logical operator"),
        (sub("and", ("size", ">", "big")), "cannot compare a number with 'big'"),
    ],
)
def test_bad_sub_conditions(sub_condition: dict[str, Any], message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        file_check(["s", "docs"], "contains", None, sub_variable_condition=sub_condition)


def test_with_the_engine_variable_pool_and_templates() -> None:
    from apps_runtime.engine.templates import render
    from apps_runtime.engine.variables import VariablePool

    pool_ = VariablePool(system={"query": "world"})
    pool_.set_outputs("start", {"text": "hello world", "n": 3, "doc": PDF, "docs": [PDF, PNG]})
    pool_.set("code", "nothing", None)
    data = {
        "cases": [
            {
                "case_id": "a",
                "conditions": [
                    cond_at(["start", "text"], "end with", "{{#sys.query#}}"),
                    cond_at(["start", "nope"], "empty"),
                ],
            },
        ]
    }
    with pytest.raises(ConditionError, match=re.escape("Variable ['start', 'nope'] not found")):
        evaluate_if_else(data, pool_.get, lambda text: render(text, pool_))
    data = {
        "cases": [
            {"case_id": "a", "conditions": [cond_at(["start", "text"], "end with", "x")]},
            {
                "case_id": "b",
                "logical_operator": "and",
                "conditions": [
                    cond_at(["start", "text"], "end with", "{{#sys.query#}}"),
                    cond_at(["start", "n"], "≥", "{{#start.n#}}"),
                    cond_at(["start", "doc", "extension"], "is", "pdf"),
                    cond_at(["start", "doc", "size"], ">", "1000"),
                    cond_at(["code", "nothing"], "null"),
                    {
                        **cond_at(["start", "docs"], "contains"),
                        "sub_variable_condition": sub("and", ("extension", "is", "png")),
                    },
                ],
            },
        ]
    }
    result = evaluate_if_else(data, pool_.get, lambda text: render(text, pool_))
    assert (result.selected_case_id, result.result) == ("b", True)


def cond_at(selector: list[str], operator: str, value: Any = None) -> dict[str, Any]:
    return {"variable_selector": selector, "comparison_operator": operator, "value": value}
