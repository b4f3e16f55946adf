"""``question-classifier`` (dsl.md §4.11): the model picks one of the node's classes for the input;
the chosen class id is the out-handle. The model is asked for a small JSON answer and the reply is
read defensively: an id, a class name, or the same inside prose; anything unreadable takes the
first class (as Dify does)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from apps_runtime.engine.model_call import call_model, json_in_answer, model_process_data
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.prompt import model_params, node_history, task_messages
from apps_runtime.engine.templates import render, to_text


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    label: str


def categories(data: dict[str, Any]) -> list[Category]:
    raw = data.get("classes")
    if not isinstance(raw, list) or not raw:
        raise NodeFailed("The question classifier has no classes", "ConfigError")
    found: list[Category] = []
    for position, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise NodeFailed(
                f"Class {position} of the question classifier has no id", "ConfigError"
            )
        label = item.get("label")
        found.append(
            Category(
                id=str(item["id"]),
                name=str(item.get("name") or ""),
                # The editor shows unlabelled classes as "CLASS 1", "CLASS 2", ...
                label=str(label) if label else f"CLASS {position}",
            )
        )
    return found


def system_prompt(classes: list[Category], instruction: str) -> str:
    listing = json.dumps(
        [{"category_id": c.id, "category_name": c.name} for c in classes], ensure_ascii=False
    )
    parts = [
        "You are a text classifier. Put the user's input into exactly one of these categories:",
        listing,
    ]
    if instruction:
        parts.append("Instructions for classifying:\n" + instruction)
    parts.append(
        'Reply with one JSON object and nothing else: {"category_id": "<id>", '
        '"category_name": "<name>"}, using an id and name from the list above.'
    )
    return "\n\n".join(parts)


def choose(reply: str, classes: list[Category]) -> tuple[Category, bool]:
    """The class the reply names and whether it named one (False: the first class, by default)."""
    by_id = {c.id: c for c in classes}
    by_name = {c.name.strip().casefold(): c for c in classes if c.name.strip()}
    answer = json_in_answer(reply)
    if isinstance(answer, list) and answer:
        answer = answer[0]
    if isinstance(answer, dict):
        for key in ("category_id", "class_id", "id"):
            value = answer.get(key)
            if value is not None and str(value).strip() in by_id:
                return by_id[str(value).strip()], True
        for key in ("category_name", "class_name", "name"):
            value = answer.get(key)
            if isinstance(value, str) and value.strip().casefold() in by_name:
                return by_name[value.strip().casefold()], True
    bare = reply.strip().strip("\"'`. ")
    if bare in by_id:
        return by_id[bare], True
    if bare.casefold() in by_name:
        return by_name[bare.casefold()], True
    return classes[0], False


@register("question-classifier")
class QuestionClassifierNode(Node):
    calls_model = True

    @property
    def branch_handles(self) -> bool:
        return True

    def run(self, ctx: RunContext) -> NodeResult:
        classes = categories(self.data)
        text = to_text(ctx.input_value(self.data.get("query_variable_selector")))
        instruction = render(str(self.data.get("instruction") or ""), ctx.pool)
        model = self.data.get("model") or {}
        history = node_history(self.data, ctx.host.history)
        messages = task_messages(
            self.data,
            ctx.pool,
            history,
            system=system_prompt(classes, instruction),
            user=text,
        )
        params = model_params(self.data, ctx.pool)
        reply = call_model(ctx, model, messages, params)
        chosen, understood = choose(reply.text, classes)
        return NodeResult(
            inputs={"query": text},
            process_data={
                **model_process_data(model, messages, params),
                "model_reply": reply.text,
                "reply_understood": understood,
            },
            outputs={
                "class_name": chosen.name,
                "class_id": chosen.id,
                "class_label": chosen.label,
                "usage": reply.usage_outputs(),
            },
            handle=chosen.id,
            usage=reply.usage,
        )
