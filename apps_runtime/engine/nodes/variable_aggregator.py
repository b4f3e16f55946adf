"""``variable-aggregator`` (legacy ``variable-assigner``; dsl.md §4.7): the selection rule lives in
:mod:`apps_runtime.engine.aggregate`; this node binds it to the run's variable pool."""

from __future__ import annotations

from apps_runtime.engine.aggregate import AggregateError, aggregate_with_sources
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext


@register("variable-aggregator", "variable-assigner")
class VariableAggregatorNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        try:
            outputs, sources = aggregate_with_sources(self.data, ctx.pool.get)
        except AggregateError as exc:
            raise NodeFailed(str(exc), "AggregateError") from None
        return NodeResult(inputs=dict(sources), outputs=outputs)
