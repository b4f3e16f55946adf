"""``llm`` (dsl.md §4.4, §5): assemble the prompt, stream the model's answer (live to an answer
node or workflow output when one is waiting for it), record the provider's usage."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from apps_runtime.engine.model_call import call_model, json_in_answer, model_process_data
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.prompt import llm_messages, model_params, node_history
from apps_runtime.engine.variables import MISSING

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


def structured_output_schema(data: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema the answer must follow, when structured output is switched on
    (``structured_output_switch_on``, or the legacy ``structured_output_enabled``)."""
    switch = data.get("structured_output_switch_on", data.get("structured_output_enabled"))
    config = data.get("structured_output")
    schema = config.get("schema") if isinstance(config, dict) else None
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            schema = None
    if not switch or not isinstance(schema, dict):
        return None
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise NodeFailed(
            f"Invalid structured output schema: {exc.message}", "SchemaError"
        ) from None
    return schema


def structured_output_instruction(schema: dict[str, Any]) -> str:
    # Providers differ in native JSON-schema support (dsl.md §5 leaves it open), so the schema
    # travels in the prompt, which every chat model understands.
    return (
        "Answer with one JSON object only, no prose and no code fence, that is valid against "
        "this JSON schema:\n" + json.dumps(schema, ensure_ascii=False)
    )


def parse_structured_output(text: str, schema: dict[str, Any]) -> Any:
    value = json_in_answer(text)
    if value is None:
        raise NodeFailed("The model answer is not JSON", "StructuredOutputError")
    try:
        jsonschema.Draft7Validator(schema).validate(value)
    except jsonschema.ValidationError as exc:
        raise NodeFailed(
            f"The model answer does not match the output schema: {exc.message}",
            "StructuredOutputError",
        ) from None
    return value


@register("llm")
class LLMNode(Node):
    calls_model = True

    def run(self, ctx: RunContext) -> NodeResult:
        model = self.data.get("model") or {}
        history = node_history(self.data, ctx.host.history)
        messages = llm_messages(self.data, ctx.pool, history, ctx.host.should_stop)
        schema = structured_output_schema(self.data)
        if schema is not None:
            messages.insert(0, {"role": "system", "content": structured_output_instruction(schema)})
        params = model_params(self.data, ctx.pool)
        separated = self.data.get("reasoning_format") == "separated"
        splitter = ThinkSplitter() if separated else None
        sink = ctx.stream_sink(self.id)
        text: list[str] = []

        def on_text(chunk: str) -> None:
            piece = splitter.feed(chunk) if splitter else chunk
            if piece:
                text.append(piece)
                if sink is not None:
                    sink(piece)

        reply = call_model(ctx, model, messages, params, on_text=on_text)
        usage = reply.usage
        if splitter is not None:
            tail = splitter.flush()
            if tail:
                text.append(tail)
                if sink is not None:
                    sink(tail)
        reasoning = "".join(splitter.reasoning).strip() if splitter else ""
        query = ctx.pool.get(["sys", "query"])
        outputs: dict[str, Any] = {
            "text": "".join(text),
            "reasoning_content": reasoning,
            "usage": reply.usage_outputs(),
            "finish_reason": reply.finish_reason,
        }
        if schema is not None:
            outputs["structured_output"] = parse_structured_output(outputs["text"], schema)
        return NodeResult(
            inputs={} if query is MISSING else {"#sys.query#": query},
            process_data=model_process_data(model, messages, params),
            outputs=outputs,
            usage=usage,
        )
