"""Variable-aggregator rule (dsl.md §4.7): the first EXISTING selector wins, a stored null too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from apps_runtime.engine.aggregate import AggregateError, aggregate
from apps_runtime.engine.variables import MISSING

STORED = {
    "llm1.text": "from llm1",
    "llm2.text": "from llm2",
    "code.result": None,  # the producer ran and stored null
    "code.zero": 0,
    "code.empty": "",
    "code.obj": {"a": {"b": 1}},
}


def resolve(selector: Sequence[str]) -> Any:
    key = ".".join(selector[:2])
    if key not in STORED:
        return MISSING
    value = STORED[key]
    for part in selector[2:]:
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


@pytest.mark.parametrize(
    ("variables", "outputs"),
    [
        ([["llm1", "text"], ["llm2", "text"]], {"output": "from llm1"}),
        ([["skipped", "text"], ["llm2", "text"]], {"output": "from llm2"}),
        ([["skipped", "text"], ["other", "x"], ["llm1", "text"]], {"output": "from llm1"}),
        ([["code", "result"], ["llm1", "text"]], {"output": None}),  # stored null counts
        ([["skipped", "text"], ["code", "result"]], {"output": None}),
        ([["code", "zero"], ["llm1", "text"]], {"output": 0}),  # falsy values are values
        ([["code", "empty"], ["llm1", "text"]], {"output": ""}),
        ([["code", "obj", "a"]], {"output": {"b": 1}}),  # nested selector
        ([["code", "obj", "zz"], ["llm2", "text"]], {"output": "from llm2"}),
        ([["skipped", "text"], ["other", "x"]], {}),  # none exists → no output key
        ([], {}),
        (None, {}),
        (("llm1", "text"), None),  # a bare selector is not a list of selectors → error
    ],
)
def test_first_existing_selector(variables: Any, outputs: dict[str, Any] | None) -> None:
    data = {"output_type": "string", "variables": variables}
    if outputs is None:
        with pytest.raises(AggregateError):
            aggregate(data, resolve)
        return
    assert aggregate(data, resolve) == outputs


def test_output_type_is_not_enforced() -> None:
    data = {"output_type": "number", "variables": [["llm1", "text"]]}
    assert aggregate(data, resolve) == {"output": "from llm1"}


def test_selectors_are_resolved_in_order_and_stop_at_the_first_hit() -> None:
    seen: list[list[str]] = []

    def tracking(selector: Sequence[str]) -> Any:
        seen.append(list(selector))
        return resolve(selector)

    aggregate({"variables": [["a", "b"], ["llm2", "text"], ["llm1", "text"]]}, tracking)
    assert seen == [["a", "b"], ["llm2", "text"]]


GROUPED = {
    "variables": [["llm1", "text"]],  # ignored once groups are enabled
    "advanced_settings": {
        "group_enabled": True,
        "groups": [
            {
                "group_name": "Group1",
                "groupId": "g1",
                "output_type": "string",
                "variables": [["skipped", "x"], ["llm2", "text"]],
            },
            {
                "group_name": "nulls",
                "groupId": "g2",
                "output_type": "string",
                "variables": [["code", "result"], ["llm1", "text"]],
            },
            {
                "group_name": "nothing",
                "groupId": "g3",
                "output_type": "string",
                "variables": [["skipped", "x"]],
            },
            {
                "group_name": "first",
                "groupId": "g4",
                "output_type": "string",
                "variables": [["llm1", "text"], ["llm2", "text"]],
            },
        ],
    },
}


def test_groups_resolve_independently() -> None:
    assert aggregate(GROUPED, resolve) == {
        "Group1": {"output": "from llm2"},
        "nulls": {"output": None},
        "first": {"output": "from llm1"},
    }


def test_groups_disabled_uses_top_level_variables() -> None:
    data = {
        **GROUPED,
        "advanced_settings": {**GROUPED["advanced_settings"], "group_enabled": False},
    }
    assert aggregate(data, resolve) == {"output": "from llm1"}


def test_no_advanced_settings_or_null() -> None:
    assert aggregate({"variables": [["llm2", "text"]], "advanced_settings": None}, resolve) == {
        "output": "from llm2"
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"variables": "llm1.text"}, "must be a list of selectors"),
        ({"variables": [["llm1"]]}, "Invalid variable selector"),
        ({"variables": ["llm1"]}, "Invalid variable selector"),
        ({"advanced_settings": {"group_enabled": True, "groups": None}}, "must be a list"),
        ({"advanced_settings": {"group_enabled": True, "groups": ["x"]}}, "must be a mapping"),
        (
            {"advanced_settings": {"group_enabled": True, "groups": [{"variables": []}]}},
            "needs a group_name",
        ),
    ],
)
def test_malformed_data(data: dict[str, Any], message: str) -> None:
    with pytest.raises(AggregateError, match=message):
        aggregate(data, resolve)


def test_with_the_engine_variable_pool() -> None:
    from apps_runtime.engine.variables import VariablePool

    pool = VariablePool()
    pool.set("code", "result", None)
    pool.set("llm", "text", "hi")
    data = {"variables": [["skipped", "text"], ["code", "result"], ["llm", "text"]]}
    assert aggregate(data, pool.get) == {"output": None}
    assert aggregate({"variables": [["skipped", "text"], ["llm", "text"]]}, pool.get) == {
        "output": "hi"
    }
    assert aggregate({"variables": [["skipped", "text"]]}, pool.get) == {}


def test_sources_name_the_selector_each_output_came_from() -> None:
    from apps_runtime.engine.aggregate import aggregate_with_sources

    assert aggregate_with_sources(GROUPED, resolve)[1] == {
        "Group1": ["llm2", "text"],
        "nulls": ["code", "result"],
        "first": ["llm1", "text"],
    }
    data = {"variables": [["skipped", "x"], ["code", "zero"]]}
    assert aggregate_with_sources(data, resolve) == ({"output": 0}, {"output": ["code", "zero"]})
