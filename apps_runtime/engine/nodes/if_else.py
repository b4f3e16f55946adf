"""``if-else`` (dsl.md §4.6): the branch is chosen by :mod:`apps_runtime.engine.conditions`; this
node only binds it to the run's variable pool and templates and turns the choice into a handle."""

from __future__ import annotations

from apps_runtime.engine.conditions import ConditionError, evaluate_if_else
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.templates import render


@register("if-else")
class IfElseNode(Node):
    @property
    def branch_handles(self) -> bool:
        return True

    def run(self, ctx: RunContext) -> NodeResult:
        try:
            chosen = evaluate_if_else(self.data, ctx.pool.get, lambda text: render(text, ctx.pool))
        except ConditionError as exc:
            raise NodeFailed(str(exc), "ConditionError") from None
        results = [{"case_id": case.case_id, "result": case.passed} for case in chosen.cases]
        return NodeResult(
            process_data={"condition_results": results},
            outputs={"result": chosen.result, "selected_case_id": chosen.selected_case_id},
            handle=chosen.selected_case_id,
        )
