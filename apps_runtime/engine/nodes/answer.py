"""``answer`` (dsl.md §4.3): the markdown rendering of its template; the runner streams it (parts
of it may already have gone out live while an LLM node produced them)."""

from __future__ import annotations

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeResult, RunContext
from apps_runtime.engine.templates import files_in, render


@register("answer")
class AnswerNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        template = str(self.data.get("answer") or "")
        answer = render(template, ctx.pool, markdown=True)
        return NodeResult(outputs={"answer": answer, "files": files_in(template, ctx.pool)})
