"""``list-operator`` (dsl.md §4.14): an array through, in this order, a filter (every condition must
hold; the if-else comparisons of :mod:`apps_runtime.engine.conditions` on each element, or on the
element's ``key`` for files and objects), extraction of one element by its 1-based serial
(templated), a sort and a limit. Outputs ``result``, ``first_record`` and ``last_record``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps_runtime.engine.conditions import ConditionError, evaluate_condition
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.templates import render
from apps_runtime.engine.variables import file_attribute, is_file

# The pseudo-selector an element is compared through (a third part names its key).
ITEM = "item"


def _switch(config: Any) -> dict[str, Any] | None:
    return config if isinstance(config, dict) and config.get("enabled") else None


def element_value(item: Any, key: str) -> Any:
    """The element itself, or its ``key`` (a file attribute, or an object's field)."""
    if not key:
        return item
    if is_file(item):
        return file_attribute(item, key)
    if isinstance(item, dict):
        return item.get(key)
    return None


@register("list-operator")
class ListOperatorNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        selector = self.data.get("variable") or []
        value = ctx.input_value(selector)
        if value is None:
            value = []
        if not isinstance(value, list):
            raise NodeFailed(
                f"Variable {list(selector)} is not an array; the list operator needs one",
                "InvalidVariableType",
            )
        items = list(value)
        try:
            if (config := _switch(self.data.get("filter_by"))) is not None:
                items = self._filter(items, config.get("conditions") or [], ctx)
            if (config := _switch(self.data.get("extract_by"))) is not None:
                items = self._extract(items, config, ctx)
            if (config := _switch(self.data.get("order_by"))) is not None:
                items = self._order(items, config)
            if (config := _switch(self.data.get("limit"))) is not None:
                items = items[: self._size(config)]
        except ConditionError as exc:
            raise NodeFailed(str(exc), "ConditionError") from None
        return NodeResult(
            inputs={"variable": value},
            outputs={
                "result": items,
                "first_record": items[0] if items else None,
                "last_record": items[-1] if items else None,
            },
        )

    def _filter(self, items: list[Any], conditions: Sequence[Any], ctx: RunContext) -> list[Any]:
        checks = []
        for condition in conditions:
            if not isinstance(condition, dict):
                raise NodeFailed("Each filter condition must be a mapping", "ConfigError")
            key = str(condition.get("key") or "")
            checks.append(
                {
                    "variable_selector": [ITEM, "value", key] if key else [ITEM, "value"],
                    "comparison_operator": condition.get("comparison_operator"),
                    "value": condition.get("value"),
                }
            )

        def keep(item: Any) -> bool:
            def resolve(selector: Sequence[str]) -> Any:
                return element_value(item, selector[2] if len(selector) > 2 else "")

            return all(
                evaluate_condition(check, resolve, lambda text: render(text, ctx.pool))
                for check in checks
            )

        return [item for item in items if keep(item)]

    def _extract(self, items: list[Any], config: dict[str, Any], ctx: RunContext) -> list[Any]:
        serial = render(str(config.get("serial") or ""), ctx.pool).strip()
        try:
            position = int(serial)
        except ValueError:
            raise NodeFailed(
                f"The serial to extract must be a whole number, got {serial!r}", "ConfigError"
            ) from None
        if not 1 <= position <= len(items):
            raise NodeFailed(
                f"Serial {position} is out of range: the list has {len(items)} element(s)",
                "IndexOutOfRange",
            )
        return [items[position - 1]]

    def _order(self, items: list[Any], config: dict[str, Any]) -> list[Any]:
        key = str(config.get("key") or "")
        descending = str(config.get("value") or "asc").lower() == "desc"
        present = [i for i in items if element_value(i, key) is not None]
        absent = [i for i in items if element_value(i, key) is None]
        try:
            ordered = sorted(present, key=lambda i: element_value(i, key), reverse=descending)
        except TypeError:
            raise NodeFailed(
                "The list cannot be sorted: its values are not comparable with each other",
                "SortError",
            ) from None
        return ordered + absent  # elements without a value stay last either way

    def _size(self, config: dict[str, Any]) -> int:
        try:
            size = int(config.get("size"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise NodeFailed("The limit size must be a whole number", "ConfigError") from None
        if size < 0:
            raise NodeFailed("The limit size cannot be negative", "ConfigError")
        return size
