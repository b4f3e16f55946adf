"""One model call from a node: the stream consumed with stop checks, the text, usage, finish reason
and tool calls collected, the provider's stream always closed. The ``llm``,
``question-classifier`` and ``parameter-extractor`` nodes all call their model through here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import json_repair

from apps_runtime.providers.types import ToolCall, Usage

if TYPE_CHECKING:
    from apps_runtime.engine.nodes.base import RunContext


@dataclass(frozen=True)
class ModelReply:
    text: str
    usage: Usage
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...]
    latency: float

    def usage_outputs(self) -> dict[str, Any]:
        return usage_dict(self.usage, self.latency)


def model_process_data(
    model: dict[str, Any], messages: list[dict[str, Any]], params: dict[str, Any]
) -> dict[str, Any]:
    """What a model node shows of its call in ``process_data``."""
    return {
        "model_mode": model.get("mode", "chat"),
        "model_provider": model.get("provider"),
        "model_name": model.get("name"),
        "prompts": messages,
        "params": params,
    }


def usage_dict(usage: Usage, latency: float) -> dict[str, Any]:
    """A node's ``usage`` output (dsl.md §4.4): the provider's counts; no prices are known."""
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


def call_model(
    ctx: RunContext,
    model: dict[str, Any],
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    *,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict[str, Any] | None = None,
    on_text: Callable[[str], None] | None = None,
) -> ModelReply:
    """Stream one completion from the node's ``model`` through the host; ``on_text`` sees each
    text piece as it arrives. Raises ``StopRequested`` on a stop and ``ProviderError`` as the
    host raises it."""
    started = time.perf_counter()
    text: list[str] = []
    usage = Usage()
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    ctx.check_stop()
    stream = ctx.host.chat_stream(
        provider=str(model.get("provider") or ""),
        model=str(model.get("name") or ""),
        messages=messages,
        params=params,
        tools=tools,
        tool_choice=tool_choice,
    )
    try:
        for chunk in stream:
            ctx.check_stop()
            if chunk.text:
                text.append(chunk.text)
                if on_text is not None:
                    on_text(chunk.text)
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.finish_reason:
                finish_reason = chunk.finish_reason
            if chunk.tool_calls:
                tool_calls = chunk.tool_calls
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return ModelReply(
        "".join(text), usage, finish_reason, tool_calls, time.perf_counter() - started
    )


def json_in_answer(text: str) -> Any:
    """The JSON value a model answered with, tolerant of a code fence and of small syntax slips
    (repaired with json-repair); ``None`` when there is no JSON in it at all."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        return json.loads(body)
    except ValueError:
        value = json_repair.loads(body)
    return None if value == "" else value
