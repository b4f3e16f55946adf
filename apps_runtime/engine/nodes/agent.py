"""``agent`` (dsl.md §4.14 "also exist"): the agent loop of agent-chat apps inside a workflow, for
the function-calling and ReAct strategies (``agent_strategy_name``). The answer streams like an
LLM node's text (to a waiting answer node), each step is an ``agent_log`` event, and the outputs
are ``text``, ``files``, ``json`` and ``usage``. Other strategies are refused before a run starts
(``app_unavailable`` naming them)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from apps_runtime.engine.agent import (
    FUNCTION_CALL,
    REACT,
    AgentLoop,
    AgentSetup,
    max_iteration_of,
)
from apps_runtime.engine.model_call import usage_dict
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.prompt import history_messages, history_turns, model_params
from apps_runtime.engine.templates import render
from apps_runtime.engine.variables import MISSING
from apps_runtime.tools.types import ToolUnavailable, agent_tool_entry

# Dify's agent strategy names (the langgenius/agent plugin) → the loop's strategies.
NODE_STRATEGIES = {
    "function_calling": FUNCTION_CALL,
    "functioncalling": FUNCTION_CALL,
    "function_call": FUNCTION_CALL,
    "react": REACT,
    "cot": REACT,
}


def node_strategy(data: Mapping[str, Any]) -> str | None:
    name = str(data.get("agent_strategy_name") or "").strip().lower().replace("-", "_")
    return NODE_STRATEGIES.get(name)


def strategy_label(data: Mapping[str, Any]) -> str:
    return str(data.get("agent_strategy_name") or data.get("agent_strategy_label") or "(none)")


def unrunnable_agent_strategies(graph: Any) -> list[str]:
    """Sorted strategy names of the graph's agent nodes that this engine cannot run."""
    nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    found: set[str] = set()
    for node in nodes or []:
        data = node.get("data") if isinstance(node, dict) else None
        if isinstance(data, dict) and data.get("type") == "agent" and node_strategy(data) is None:
            found.add(strategy_label(data))
    return sorted(found)


def _parameter(data: Mapping[str, Any], name: str) -> Any:
    parameters = data.get("agent_parameters")
    value = parameters.get(name) if isinstance(parameters, dict) else None
    return value.get("value") if isinstance(value, dict) and "value" in value else value


def _text(data: Mapping[str, Any], name: str, ctx: RunContext) -> str:
    parameters = data.get("agent_parameters")
    raw = parameters.get(name) if isinstance(parameters, dict) else None
    if isinstance(raw, dict) and raw.get("type") == "variable":
        selector = raw.get("value")
        value = ctx.pool.get(selector) if isinstance(selector, list) else MISSING
        return "" if value is MISSING or value is None else str(value)
    value = _parameter(data, name)
    return render(str(value), ctx.pool) if value not in (None, "") else ""


@register("agent")
class AgentNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        strategy = node_strategy(self.data)
        if strategy is None:
            raise NodeFailed(
                f"agent strategy {strategy_label(self.data)} is not runnable", "AgentStrategy"
            )
        model = _parameter(self.data, "model")
        model = model if isinstance(model, dict) else {}
        tools_value = _parameter(self.data, "tools")
        entries = [
            agent_tool_entry(t)
            for t in tools_value or []
            if isinstance(t, dict) and t.get("enabled", True)
        ]
        try:
            tools = [ctx.host.tool(entry) for entry in entries]
        except ToolUnavailable as exc:
            raise NodeFailed(exc.message, "ToolUnavailable") from None
        setup = AgentSetup(
            provider=str(model.get("provider") or ""),
            model=str(model.get("model") or model.get("name") or ""),
            params=model_params({"model": model}, ctx.pool),
            strategy=strategy,
            max_iteration=max_iteration_of(_parameter(self.data, "maximum_iterations")),
            tools=tools,
        )
        instruction = _text(self.data, "instruction", ctx)
        query = _text(self.data, "query", ctx)
        if not query:
            found = ctx.pool.get(["sys", "query"])
            query = "" if found is MISSING or found is None else str(found)
        messages: list[dict[str, Any]] = []
        if instruction:
            messages.append({"role": "system", "content": instruction})
        memory = self.data.get("memory")
        if isinstance(memory, dict):
            messages.extend(history_messages(ctx.host.history(history_turns(memory))))
        messages.append({"role": "user", "content": query})
        sink = ctx.stream_sink(self.id)

        def on_thought(event: dict[str, Any]) -> None:
            ctx.host.emit(
                {
                    "event": "agent_log",
                    "data": {
                        "node_id": self.id,
                        "id": event["id"],
                        "label": event["tool"],
                        "status": "success" if event["observation"] else "start",
                        "data": {k: v for k, v in event.items() if k != "event"},
                    },
                }
            )

        started = time.perf_counter()
        loop = AgentLoop(
            ctx.host,
            setup,
            on_thought=on_thought,
            on_answer=lambda text: sink(text) if sink is not None else None,
            check_stop=ctx.check_stop,
        )
        result = loop.run(messages)
        return NodeResult(
            inputs={"query": query},
            process_data={
                "strategy": strategy,
                "model_provider": setup.provider,
                "model_name": setup.model,
                "tools": [tool.spec.name for tool in tools],
                "agent_thoughts": result.thoughts,
            },
            outputs={
                "text": result.answer,
                "files": [],
                "json": [],
                "usage": usage_dict(result.usage, time.perf_counter() - started),
            },
            usage=result.usage,
        )
