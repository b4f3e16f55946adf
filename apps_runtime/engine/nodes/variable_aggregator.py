"""``variable-aggregator`` (legacy type ``variable-assigner``; dsl.md §4.7): the first selector
whose value exists (a stored null counts) becomes ``output``; groups resolve independently."""

from __future__ import annotations

from typing import Any

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeResult, RunContext
from apps_runtime.engine.variables import MISSING, VariablePool


def first_existing(selectors: Any, pool: VariablePool) -> tuple[bool, Any, list[Any] | None]:
    for selector in selectors or []:
        if not isinstance(selector, list | tuple):
            continue
        value = pool.get(selector)
        if value is not MISSING:
            return True, value, list(selector)
    return False, None, None


@register("variable-aggregator", "variable-assigner")
class VariableAggregatorNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        settings = self.data.get("advanced_settings") or {}
        outputs: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        if isinstance(settings, dict) and settings.get("group_enabled"):
            for group in settings.get("groups") or []:
                if not isinstance(group, dict) or not group.get("group_name"):
                    continue
                found, value, selector = first_existing(group.get("variables"), ctx.pool)
                name = str(group["group_name"])
                if found:
                    outputs[name] = {"output": value}
                    inputs[name] = selector
        else:
            found, value, selector = first_existing(self.data.get("variables"), ctx.pool)
            if found:
                outputs["output"] = value
                inputs["selector"] = selector
        return NodeResult(inputs=inputs, outputs=outputs)
