"""``llm`` (dsl.md §4.4, §5): assemble the prompt, stream the model's answer (live to an answer
node or workflow output when one is waiting for it), record the provider's usage."""

from __future__ import annotations

from typing import Any

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeResult, RunContext
from apps_runtime.engine.prompt import history_turns, llm_messages, model_params
from apps_runtime.engine.variables import MISSING
from apps_runtime.providers.types import Usage

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Separates ``<think>…</think>`` blocks from visible text as chunks arrive (tags may be split
    across chunks)."""

    def __init__(self) -> None:
        self.inside = False
        self.pending = ""
        self.reasoning: list[str] = []

    def feed(self, text: str) -> str:
        data = self.pending + text
        self.pending = ""
        visible: list[str] = []
        while data:
            tag = THINK_CLOSE if self.inside else THINK_OPEN
            index = data.find(tag)
            if index >= 0:
                (self.reasoning if self.inside else visible).append(data[:index])
                data = data[index + len(tag) :]
                self.inside = not self.inside
                continue
            keep = 0
            for size in range(min(len(tag) - 1, len(data)), 0, -1):
                if tag.startswith(data[-size:]):
                    keep = size
                    break
            body, self.pending = (data[:-keep], data[-keep:]) if keep else (data, "")
            (self.reasoning if self.inside else visible).append(body)
            break
        return "".join(visible)

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        if self.inside:
            self.reasoning.append(rest)
            return ""
        return rest


def usage_dict(usage: Usage, latency: float) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_price": "0",
        "currency": "USD",
        "latency": round(latency, 3),
    }


@register("llm")
class LLMNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        import time

        model = self.data.get("model") or {}
        memory = self.data.get("memory")
        history = ctx.host.history(history_turns(memory)) if isinstance(memory, dict) else []
        messages = llm_messages(self.data, ctx.pool, history)
        params = model_params(self.data, ctx.pool)
        separated = self.data.get("reasoning_format") == "separated"
        splitter = ThinkSplitter() if separated else None
        sink = ctx.stream_sink(self.id)
        started = time.perf_counter()
        text: list[str] = []
        usage = Usage()
        finish_reason = None
        ctx.check_stop()
        stream = ctx.host.chat_stream(
            provider=str(model.get("provider") or ""),
            model=str(model.get("name") or ""),
            messages=messages,
            params=params,
        )
        try:
            for chunk in stream:
                ctx.check_stop()
                piece = splitter.feed(chunk.text) if splitter else chunk.text
                if piece:
                    text.append(piece)
                    if sink is not None:
                        sink(piece)
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.finish_reason:
                    finish_reason = chunk.finish_reason
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if splitter is not None:
            tail = splitter.flush()
            if tail:
                text.append(tail)
                if sink is not None:
                    sink(tail)
        reasoning = "".join(splitter.reasoning).strip() if splitter else ""
        query = ctx.pool.get(["sys", "query"])
        return NodeResult(
            inputs={} if query is MISSING else {"#sys.query#": query},
            process_data={
                "model_mode": model.get("mode", "chat"),
                "model_provider": model.get("provider"),
                "model_name": model.get("name"),
                "prompts": messages,
                "params": params,
            },
            outputs={
                "text": "".join(text),
                "reasoning_content": reasoning,
                "usage": usage_dict(usage, time.perf_counter() - started),
                "finish_reason": finish_reason,
            },
            usage=usage,
        )
