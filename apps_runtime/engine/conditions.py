"""If-else evaluation (dsl.md §4.6), pure: values come through ``resolve``, text through ``render``.

"actual" is the resolved variable, "expected" the condition's ``value`` (a string is rendered
first, a list is used as-is). A missing variable, an unknown operator or a comparison that makes
no sense for the value's type raises :class:`ConditionError`; the node turns it into a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps_runtime.engine.variables import FILE_ATTRIBUTES, MISSING, file_attribute, is_file

Resolve = Callable[[Sequence[str]], Any]
Render = Callable[[str], str]

ELSE_CASE_ID = "false"
LEGACY_CASE_ID = "true"
# Operators that, on an array of files, are answered by the sub-conditions instead of themselves.
SUB_CONDITION_OPERATORS = frozenset({"contains", "not contains", "all of"})


class ConditionError(Exception):
    """A condition cannot be evaluated; the message is meant for the app's author."""


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    results: tuple[bool, ...]
    passed: bool


@dataclass(frozen=True)
class IfElseResult:
    selected_case_id: str
    result: bool
    # Every case that was evaluated, in order (for the node's process_data).
    cases: tuple[CaseResult, ...] = field(default=())


def evaluate_if_else(data: Mapping[str, Any], resolve: Resolve, render: Render) -> IfElseResult:
    """Pick the branch of an if-else node: the first passing case, else ``"false"``."""
    evaluated: list[CaseResult] = []
    for case_id, operator, conditions in _cases(data):
        results = evaluate_conditions(conditions, operator, resolve, render)
        passed = _combine(results, operator)
        evaluated.append(CaseResult(case_id, tuple(results), passed))
        if passed:
            return IfElseResult(case_id, True, tuple(evaluated))
    return IfElseResult(ELSE_CASE_ID, False, tuple(evaluated))


def _cases(data: Mapping[str, Any]) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    raw_cases = data.get("cases")
    if not raw_cases:
        # No cases at all: the legacy form if it is there, otherwise only ELSE remains.
        if data.get("conditions") is None:
            return []
        # Legacy single-case form: the whole node is the case whose handle is "true".
        return [
            (
                LEGACY_CASE_ID,
                _logical_operator(data.get("logical_operator")),
                _condition_list(data.get("conditions")),
            )
        ]
    if not isinstance(raw_cases, list):
        raise ConditionError("'cases' must be a list")
    cases = []
    for raw in raw_cases:
        if not isinstance(raw, Mapping):
            raise ConditionError("Each case must be a mapping")
        case_id = raw.get("case_id") or raw.get("id")
        if not isinstance(case_id, str) or not case_id:
            raise ConditionError("Each case needs a case_id")
        cases.append(
            (
                case_id,
                _logical_operator(raw.get("logical_operator")),
                _condition_list(raw.get("conditions")),
            )
        )
    return cases


def _logical_operator(value: Any) -> str:
    if value is None:
        return "and"
    if value not in ("and", "or"):
        raise ConditionError(f"Unsupported logical operator: {value!r} (use 'and' or 'or')")
    return str(value)


def _condition_list(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ConditionError("'conditions' must be a list of conditions")
    return value


def conditions_pass(
    conditions: Any, logical_operator: Any, resolve: Resolve, render: Render
) -> bool:
    """Whether a condition group holds (a loop's break conditions, a list filter): the if-else
    rules for one case, ``logical_operator`` ``and`` (default) or ``or``."""
    operator = _logical_operator(logical_operator)
    results = evaluate_conditions(_condition_list(conditions), operator, resolve, render)
    return _combine(results, operator)


def _combine(results: Sequence[bool], operator: str) -> bool:
    return all(results) if operator == "and" else any(results)


def evaluate_conditions(
    conditions: Sequence[Mapping[str, Any]], operator: str, resolve: Resolve, render: Render
) -> list[bool]:
    """Results of ``conditions`` in order, stopping at the first one that decides the group.

    Conditions after the deciding one are not evaluated at all, so a later missing variable does
    not fail a group that is already decided.
    """
    results: list[bool] = []
    for condition in conditions:
        outcome = evaluate_condition(condition, resolve, render)
        results.append(outcome)
        if (operator == "and" and not outcome) or (operator == "or" and outcome):
            break
    return results


def evaluate_condition(condition: Mapping[str, Any], resolve: Resolve, render: Render) -> bool:
    selector = condition.get("variable_selector")
    if not isinstance(selector, (list, tuple)) or len(selector) < 2:
        raise ConditionError(f"Invalid variable selector: {selector!r}")
    selector = [str(part) for part in selector]
    operator = condition.get("comparison_operator")
    if not isinstance(operator, str) or operator not in _OPERATORS:
        raise ConditionError(f"Unsupported comparison operator: {operator!r}")
    actual = resolve(selector)
    if actual is MISSING:
        raise ConditionError(f"Variable {selector} not found")

    sub = condition.get("sub_variable_condition")
    sub_conditions = sub.get("conditions") if isinstance(sub, Mapping) else None
    if operator in SUB_CONDITION_OPERATORS and (
        sub_conditions or condition.get("varType") == "array[file]" or _is_file_list(actual)
    ):
        if not sub_conditions:
            raise ConditionError(
                f"Condition on the file list {selector} needs sub-conditions for {operator!r}"
            )
        assert isinstance(sub, Mapping)
        return _evaluate_file_list(
            actual, sub_conditions, _logical_operator(sub.get("logical_operator")), render
        )

    expected = condition.get("value")
    if isinstance(expected, str):
        expected = render(expected)
    if operator in ("is", "is not") and selector[-1] == "extension" and len(selector) == 3:
        actual, expected = _dotted(actual), _dotted(expected)
    return compare(operator, actual, expected)


def compare(operator: str, actual: Any, expected: Any) -> bool:
    """One comparison of a resolved value with an already rendered ``value``.

    A boolean (or array of booleans) is compared with ``expected`` read as a boolean
    (``true``/``false``/``1``/``0``, text read as JSON).
    """
    check = _OPERATORS.get(operator)
    if check is None:
        raise ConditionError(f"Unsupported comparison operator: {operator!r}")
    if expected is not None and _is_boolean_value(actual):
        expected = _to_bool_expected(expected)
    return check(actual, expected)


# --- files ----------------------------------------------------------------------------------


def _is_file_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(is_file(item) for item in value)


def _file_attribute(file: Any, key: str) -> Any:
    if isinstance(file, dict):
        return file_attribute(file, key)
    return None


def _dotted(value: Any) -> Any:
    """Extensions compare with a leading dot whichever way the file or the author wrote them."""
    if isinstance(value, str) and value and not value.startswith("."):
        return "." + value
    return value


def _evaluate_file_list(
    files: Any, sub_conditions: Sequence[Any], logical_operator: str, render: Render
) -> bool:
    """Sub-conditions over every file; the outer operator itself is not applied.

    An operator whose text contains "not" must hold for every file, any other for at least one.
    """
    if files is None:
        files = []
    if not isinstance(files, list):
        raise ConditionError("Sub-conditions need an array of files")
    results: list[bool] = []
    for sub in sub_conditions:
        if not isinstance(sub, Mapping):
            raise ConditionError("Each sub-condition must be a mapping")
        key = sub.get("key")
        if key not in FILE_ATTRIBUTES:
            raise ConditionError(f"Unknown file attribute in a sub-condition: {key!r}")
        operator = sub.get("comparison_operator")
        if not isinstance(operator, str) or operator not in _OPERATORS:
            raise ConditionError(f"Unsupported comparison operator: {operator!r}")
        expected = sub.get("value")
        if isinstance(expected, str):
            expected = render(expected)
        values = [_file_attribute(file, key) for file in files]
        if key == "extension":
            if not isinstance(expected, str):
                raise ConditionError("The value of an extension sub-condition must be text")
            expected = _dotted(expected)
            values = [_dotted(value) for value in values]
        per_file = [compare(operator, value, expected) for value in values]
        results.append(all(per_file) if "not" in operator else any(per_file))
    return _combine(results, logical_operator)


# --- operators ------------------------------------------------------------------------------


def _is_boolean_value(actual: Any) -> bool:
    if isinstance(actual, bool):
        return True
    return isinstance(actual, list) and bool(actual) and all(isinstance(i, bool) for i in actual)


def _to_bool_expected(expected: Any) -> Any:
    if isinstance(expected, list):
        return [_to_bool(item) for item in expected]
    return _to_bool(expected)


def _to_bool(value: Any) -> bool:
    """``true``/``false``/``1``/``0`` (text read as JSON) or a bool/int itself."""
    if isinstance(value, (bool, int)):
        return bool(value)
    if isinstance(value, str):
        try:
            loaded = json.loads(value.strip())
        except ValueError:
            loaded = None
        if isinstance(loaded, (bool, int)):
            return bool(loaded)
    raise ConditionError(f"Cannot compare a boolean with {value!r} (use true or false)")


def type_name(value: Any) -> str:
    """The DSL's word for a value's type (for messages): string, number, array, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if isinstance(actual, str):
        return str(expected) in actual
    if isinstance(actual, list):
        return expected in actual
    raise ConditionError(f"'contains' needs a string or an array, got {type_name(actual)}")


def _not_contains(actual: Any, expected: Any) -> bool:
    if not actual:
        return True
    return not _contains(actual, expected)


def _text_edge(name: str, check: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        if not actual:
            return False
        if not isinstance(actual, str):
            raise ConditionError(f"'{name}' needs a string, got {type_name(actual)}")
        if not isinstance(expected, str):
            raise ConditionError(f"'{name}' needs a text value, got {type_name(expected)}")
        return check(actual, expected)

    return compare


def _is(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if not isinstance(actual, (str, bool)):
        raise ConditionError(f"'is' needs a string or a boolean, got {type_name(actual)}")
    return bool(actual == expected)


def _is_not(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if not isinstance(actual, (str, bool)):
        raise ConditionError(f"'is not' needs a string or a boolean, got {type_name(actual)}")
    return bool(actual != expected)


def _equal_operand(actual: Any, expected: Any, name: str) -> Any:
    """``expected`` converted to the type of ``actual`` (int text must be an integer)."""
    if not isinstance(actual, (int, float)):
        raise ConditionError(f"'{name}' needs a number or a boolean, got {type_name(actual)}")
    if isinstance(actual, bool):
        if isinstance(expected, list):
            raise ConditionError(f"'{name}' cannot compare a boolean with array")
        return _to_bool(expected)
    if isinstance(expected, bool) or not isinstance(expected, (int, float, str)):
        raise ConditionError(f"'{name}' cannot compare a number with {type_name(expected)}")
    if not isinstance(expected, str):
        return expected
    try:
        return int(expected) if isinstance(actual, int) else float(expected)
    except ValueError:
        kind = "an integer" if isinstance(actual, int) else "a number"
        raise ConditionError(f"'{name}' cannot compare {kind} with {expected!r}") from None


def _equal(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    return bool(actual == _equal_operand(actual, expected, "="))


def _not_equal(actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    return bool(actual != _equal_operand(actual, expected, "≠"))


def _order(name: str, check: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: Any) -> bool:
        if actual is None:
            return False
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            raise ConditionError(f"'{name}' needs a number, got {type_name(actual)}")
        if isinstance(expected, str):
            try:
                number = float(expected)
            except ValueError:
                raise ConditionError(
                    f"'{name}' cannot compare a number with {expected!r}"
                ) from None
            if isinstance(actual, int) and number.is_integer():
                number = int(number)
        elif isinstance(expected, (int, float)) and not isinstance(expected, bool):
            number = expected
        else:
            raise ConditionError(f"'{name}' cannot compare a number with {type_name(expected)}")
        return check(actual, number)

    return compare


def _in(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(expected, list):
        raise ConditionError(f"'in' needs a list of values, got {type_name(expected)}")
    return actual in expected


def _not_in(actual: Any, expected: Any) -> bool:
    if not actual:
        return True
    if not isinstance(expected, list):
        raise ConditionError(f"'not in' needs a list of values, got {type_name(expected)}")
    return actual not in expected


def _all_of(actual: Any, expected: Any) -> bool:
    if not actual:
        return False
    if not isinstance(expected, list):
        raise ConditionError(f"'all of' needs a list of values, got {type_name(expected)}")
    if not isinstance(actual, (list, str)):
        raise ConditionError(f"'all of' needs an array or a string, got {type_name(actual)}")
    if isinstance(actual, str):
        return all(isinstance(item, str) and item in actual for item in expected)
    return all(item in actual for item in expected)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": _contains,
    "not contains": _not_contains,
    "start with": _text_edge("start with", str.startswith),
    "end with": _text_edge("end with", str.endswith),
    "is": _is,
    "is not": _is_not,
    "empty": lambda actual, _expected: not actual,
    "not empty": lambda actual, _expected: bool(actual),
    "in": _in,
    "not in": _not_in,
    "all of": _all_of,
    "=": _equal,
    "≠": _not_equal,
    ">": _order(">", lambda a, b: a > b),
    "<": _order("<", lambda a, b: a < b),
    "≥": _order("≥", lambda a, b: a >= b),
    "≤": _order("≤", lambda a, b: a <= b),
    "null": lambda actual, _expected: actual is None,
    "not null": lambda actual, _expected: actual is not None,
    "exists": lambda actual, _expected: actual is not None,
    "not exists": lambda actual, _expected: actual is None,
}
COMPARISON_OPERATORS = frozenset(_OPERATORS)
