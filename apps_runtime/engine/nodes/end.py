"""``end`` (dsl.md §4.2): the workflow's outputs, each a resolved selector (null when not found)."""

from __future__ import annotations

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeResult, RunContext
from apps_runtime.engine.variables import MISSING


@register("end")
class EndNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        outputs = {}
        for item in self.data.get("outputs") or []:
            if not isinstance(item, dict) or not item.get("variable"):
                continue
            value = ctx.pool.get(item.get("value_selector") or [])
            outputs[str(item["variable"])] = None if value is MISSING else value
        return NodeResult(inputs=dict(outputs), outputs=outputs)
