"""``assigner`` (dsl.md §4.14): writes conversation variables (``conversation.*``, saved to the
conversation when the run ends, read by its next turn) and loop variables (``[loop_id, label]``).

Version 2 (``version: '2'``) has ``items`` of ``{variable_selector, input_type, operation,
value}``; version 1 one ``assigned_variable_selector`` with a ``write_mode`` and an
``input_variable_selector``. A value of the wrong type for the variable or the operation fails
the node with a message naming both; nothing is written then.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from apps_runtime.engine.conditions import type_name
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.variables import ENVIRONMENT, MISSING, SYSTEM, VariablePool

# Operations that take no value.
NO_VALUE = frozenset({"clear", "remove-first", "remove-last"})


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _overwrite(current: Any, value: Any) -> Any:
    if current is not None and value is not None and type_name(current) != type_name(value):
        raise _TypeMismatch(f"cannot write a {type_name(value)} to a {type_name(current)} variable")
    return copy.deepcopy(value)


def _clear(current: Any, _value: Any) -> Any:
    return {"string": "", "number": 0, "boolean": False, "array": [], "object": {}}.get(
        type_name(current)
    )


def _append(current: Any, value: Any) -> Any:
    if not isinstance(current, list):
        raise _TypeMismatch(f"'append' needs an array variable, not a {type_name(current)}")
    element = type_name(current[0]) if current else None
    if element is not None and value is not None and element != type_name(value):
        raise _TypeMismatch(f"cannot append a {type_name(value)} to an array of {element}")
    return [*current, copy.deepcopy(value)]


def _extend(current: Any, value: Any) -> Any:
    if not isinstance(current, list):
        raise _TypeMismatch(f"'extend' needs an array variable, not a {type_name(current)}")
    if not isinstance(value, list):
        raise _TypeMismatch(f"'extend' needs an array value, not a {type_name(value)}")
    return [*current, *copy.deepcopy(value)]


def _arithmetic(name: str, apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def operate(current: Any, value: Any) -> Any:
        if not _number(current):
            raise _TypeMismatch(f"'{name}' needs a number variable, not a {type_name(current)}")
        if not _number(value):
            raise _TypeMismatch(f"'{name}' needs a number value, not a {type_name(value)}")
        if name == "/=" and value == 0:
            raise _TypeMismatch("division by zero")
        result = apply(current, value)
        return int(result) if isinstance(result, float) and result.is_integer() else result

    return operate


def _remove(first: bool) -> Callable[[Any, Any], Any]:
    def operate(current: Any, _value: Any) -> Any:
        if not isinstance(current, list):
            name = "remove-first" if first else "remove-last"
            raise _TypeMismatch(f"'{name}' needs an array variable, not a {type_name(current)}")
        return current[1:] if first else current[:-1]

    return operate


OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "over-write": _overwrite,
    "set": _overwrite,
    "clear": _clear,
    "append": _append,
    "extend": _extend,
    "+=": _arithmetic("+=", lambda a, b: a + b),
    "-=": _arithmetic("-=", lambda a, b: a - b),
    "*=": _arithmetic("*=", lambda a, b: a * b),
    "/=": _arithmetic("/=", lambda a, b: a / b),
    "remove-first": _remove(True),
    "remove-last": _remove(False),
}
V1_MODES = {"over-write": "over-write", "append": "append", "clear": "clear"}


class _TypeMismatch(Exception):
    pass


@register("assigner")
class AssignerNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        if str(self.data.get("version") or "1") == "2" or "items" in self.data:
            items = [self._v2_item(ctx.pool, item) for item in self.data.get("items") or []]
        else:
            items = [self._v1_item(ctx.pool)]
        # Compute every new value first: a failing item leaves all variables as they were.
        updates: list[tuple[list[str], Any]] = []
        pending: dict[tuple[str, str], Any] = {}
        for selector, operation, value in items:
            key = (selector[0], selector[1])
            current = pending[key] if key in pending else ctx.pool.get(selector)
            try:
                new = OPERATIONS[operation](current, value)
            except _TypeMismatch as exc:
                name = ".".join(selector)
                raise NodeFailed(
                    f"{self.title}: {operation} on {name}: {exc}", "InvalidAssignment"
                ) from None
            pending[key] = new
            updates.append((selector, new))
        for (scope, name), value in pending.items():
            ctx.pool.set(scope, name, value)
        updated = [
            {
                "name": selector[1],
                "selector": selector,
                "value_type": type_name(value),
                "new_value": value,
            }
            for selector, value in updates
        ]
        return NodeResult(
            inputs={".".join(s): pending[(s[0], s[1])] for s, _ in updates},
            process_data={"updated_variables": updated},
        )

    def _target(self, pool: VariablePool, raw: Any) -> list[str]:
        if not isinstance(raw, list) or len(raw) != 2:
            raise NodeFailed(f"{self.title}: invalid variable selector {raw!r}", "InvalidSelector")
        selector = [str(part) for part in raw]
        if selector[0] in (SYSTEM, ENVIRONMENT):
            raise NodeFailed(
                f"{self.title}: {'.'.join(selector)} cannot be assigned (only conversation and "
                "loop variables can)",
                "InvalidSelector",
            )
        if pool.get(selector) is MISSING:
            raise NodeFailed(
                f"{self.title}: variable {'.'.join(selector)} not found", "VariableNotFound"
            )
        return selector

    def _source(self, pool: VariablePool, raw: Any) -> Any:
        value = pool.get(raw if isinstance(raw, list) else [])
        if value is MISSING:
            raise NodeFailed(f"{self.title}: variable {raw} not found", "VariableNotFound")
        return value

    def _v2_item(self, pool: VariablePool, item: Any) -> tuple[list[str], str, Any]:
        if not isinstance(item, dict):
            raise NodeFailed(f"{self.title}: each item must be a mapping", "ConfigError")
        selector = self._target(pool, item.get("variable_selector"))
        operation = str(item.get("operation") or "")
        if operation not in OPERATIONS:
            raise NodeFailed(f"{self.title}: unknown operation {operation!r}", "ConfigError")
        value: Any = None
        if operation not in NO_VALUE:
            raw = item.get("value")
            value = self._source(pool, raw) if item.get("input_type") == "variable" else raw
        return selector, operation, value

    def _v1_item(self, pool: VariablePool) -> tuple[list[str], str, Any]:
        selector = self._target(pool, self.data.get("assigned_variable_selector"))
        mode = str(self.data.get("write_mode") or "over-write")
        operation = V1_MODES.get(mode)
        if operation is None:
            raise NodeFailed(f"{self.title}: unknown write_mode {mode!r}", "ConfigError")
        value = None
        if operation != "clear":
            value = self._source(pool, self.data.get("input_variable_selector"))
        return selector, operation, value
