"""``if-else`` (dsl.md §4.6): cases in order, the first that passes picks its ``case_id`` as the
out-handle, none → ``'false'``; ``and``/``or`` short-circuit."""

from __future__ import annotations

import json
from typing import Any

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.templates import render
from apps_runtime.engine.variables import MISSING, VariablePool, file_attribute, is_file

ELSE = "false"
# Operators that read a missing variable as null instead of failing the node.
NULL_TOLERANT = frozenset({"null", "not null", "exists", "not exists", "empty", "not empty"})


class ConditionError(NodeFailed):
    def __init__(self, message: str) -> None:
        super().__init__(message, "ConditionError")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_bool(expected: Any) -> bool:
    if isinstance(expected, bool):
        return expected
    if isinstance(expected, int | float):
        return bool(expected)
    if isinstance(expected, str):
        try:
            parsed = json.loads(expected.strip().lower())
        except ValueError:
            raise ConditionError(f"{expected!r} is not a boolean") from None
        if isinstance(parsed, bool | int | float):
            return bool(parsed)
    raise ConditionError(f"{expected!r} is not a boolean")


def _to_number(expected: Any, actual: Any) -> int | float:
    if _is_number(expected):
        number: int | float = expected
    else:
        try:
            number = float(str(expected).strip())
        except ValueError:
            raise ConditionError(f"{expected!r} is not a number") from None
    if isinstance(actual, int) and float(number).is_integer():
        return int(number)
    return float(number)


def _contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if isinstance(actual, str):
        return str(expected) in actual
    if isinstance(actual, list | tuple):
        return expected in actual
    raise ConditionError("'contains' needs a string or an array")


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool):
        return actual == _to_bool(expected)
    if isinstance(actual, int):
        try:
            return (
                actual == int(str(expected).strip())
                if not _is_number(expected)
                else actual == expected
            )
        except ValueError:
            raise ConditionError(f"{expected!r} is not an integer") from None
    if isinstance(actual, float):
        return actual == _to_number(expected, actual)
    raise ConditionError("'=' needs a number or a boolean")


def compare(operator: str, actual: Any, expected: Any) -> bool:
    """One comparison: ``actual`` is the resolved variable, ``expected`` the rendered value."""
    if actual is MISSING:
        actual = None
    if operator == "contains":
        return _contains(actual, expected)
    if operator == "not contains":
        return True if not actual else not _contains(actual, expected)
    if operator in ("start with", "end with"):
        if not actual:
            return False
        if not isinstance(actual, str):
            raise ConditionError(f"'{operator}' needs a string")
        text = "" if expected is None else str(expected)
        return actual.startswith(text) if operator == "start with" else actual.endswith(text)
    if operator in ("is", "is not"):
        if actual is None:
            return False
        if isinstance(actual, bool):
            same = actual == _to_bool(expected)
        elif isinstance(actual, str):
            same = actual == ("" if expected is None else str(expected))
        else:
            raise ConditionError(f"'{operator}' needs a string or a boolean")
        return same if operator == "is" else not same
    if operator == "empty":
        return not actual
    if operator == "not empty":
        return bool(actual)
    if operator in ("null", "not exists"):
        return actual is None
    if operator in ("not null", "exists"):
        return actual is not None
    if operator in ("=", "≠"):
        if actual is None:
            return False
        same = _equal(actual, expected)
        return same if operator == "=" else not same
    if operator in (">", "<", "≥", "≤", ">=", "<="):
        if actual is None:
            return False
        if not _is_number(actual):
            raise ConditionError(f"'{operator}' needs a number")
        number = _to_number(expected, actual)
        if operator == ">":
            return actual > number
        if operator == "<":
            return actual < number
        if operator in ("≥", ">="):
            return actual >= number
        return actual <= number
    if operator in ("in", "not in"):
        if not isinstance(expected, list | tuple):
            raise ConditionError(f"'{operator}' needs a list of values")
        if not actual:
            return operator == "not in"
        inside = actual in expected
        return inside if operator == "in" else not inside
    if operator == "all of":
        if not isinstance(expected, list | tuple):
            raise ConditionError("'all of' needs a list of values")
        if not actual:
            return False
        if not isinstance(actual, list | tuple | str):
            raise ConditionError("'all of' needs a string or an array")
        return all(item in actual for item in expected)
    raise ConditionError(f"Unknown comparison operator {operator!r}")


def _expected(value: Any, pool: VariablePool, key: str | None = None) -> Any:
    if isinstance(value, str):
        value = render(value, pool)
    if key == "extension":
        if isinstance(value, str) and value and not value.startswith("."):
            value = "." + value
        elif isinstance(value, list):
            value = [v if not isinstance(v, str) or v.startswith(".") else "." + v for v in value]
    return value


def _sub_conditions(files: Any, sub: dict[str, Any], pool: VariablePool) -> bool:
    files = [f for f in files or [] if is_file(f)] if isinstance(files, list) else []
    results: list[bool] = []
    for condition in sub.get("conditions") or []:
        key = str(condition.get("key") or "")
        operator = str(condition.get("comparison_operator") or "")
        expected = _expected(condition.get("value"), pool, key)
        checks = (compare(operator, file_attribute(f, key), expected) for f in files)
        results.append(all(checks) if "not" in operator else any(checks))
    if not results:
        return False
    return any(results) if sub.get("logical_operator") == "or" else all(results)


def evaluate_condition(condition: dict[str, Any], pool: VariablePool) -> bool:
    selector = condition.get("variable_selector") or []
    operator = str(condition.get("comparison_operator") or "")
    actual = pool.get(selector)
    sub = condition.get("sub_variable_condition")
    if (
        isinstance(sub, dict)
        and sub.get("conditions")
        and operator
        in (
            "contains",
            "not contains",
            "all of",
        )
    ):
        if actual is MISSING:
            raise ConditionError(f"Variable {selector} not found")
        return _sub_conditions(actual, sub, pool)
    if actual is MISSING and operator not in NULL_TOLERANT:
        raise ConditionError(f"Variable {selector} not found")
    key = str(selector[-1]) if len(selector) >= 3 else None
    return compare(operator, actual, _expected(condition.get("value"), pool, key))


def evaluate_case(
    conditions: list[dict[str, Any]], logical_operator: str, pool: VariablePool
) -> bool:
    if logical_operator == "or":
        return any(evaluate_condition(c, pool) for c in conditions)
    return all(evaluate_condition(c, pool) for c in conditions)


@register("if-else")
class IfElseNode(Node):
    @property
    def branch_handles(self) -> bool:
        return True

    def cases(self) -> list[dict[str, Any]]:
        cases = self.data.get("cases")
        if isinstance(cases, list) and cases:
            return [c for c in cases if isinstance(c, dict)]
        return [
            {
                "case_id": "true",
                "logical_operator": self.data.get("logical_operator") or "and",
                "conditions": self.data.get("conditions") or [],
            }
        ]

    def run(self, ctx: RunContext) -> NodeResult:
        results = []
        selected = ELSE
        for case in self.cases():
            case_id = str(case.get("case_id") or case.get("id") or "")
            conditions = [c for c in case.get("conditions") or [] if isinstance(c, dict)]
            passed = bool(conditions) and evaluate_case(
                conditions, str(case.get("logical_operator") or "and"), ctx.pool
            )
            results.append({"case_id": case_id, "result": passed})
            if passed:
                selected = case_id
                break
        return NodeResult(
            process_data={"condition_results": results},
            outputs={"result": selected != ELSE, "selected_case_id": selected},
            handle=selected,
        )
