"""``parameter-extractor`` (dsl.md §4.12): the model pulls the declared parameters out of the input,
through the provider's tool calling (``reasoning_mode: function_call``, the default) or a JSON
answer (``prompt``). Values are coerced to each parameter's type and ``select`` options enforced;
a missing required or unusable value makes ``__is_success`` 0 with the reason, never a crash.
Parameters without a usable value get their type's empty value ("" / 0 / false / [])."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps_runtime.engine.model_call import (
    ModelReply,
    call_model,
    json_in_answer,
    model_process_data,
)
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.nodes.start import read_bool
from apps_runtime.engine.prompt import model_params, node_history, task_messages
from apps_runtime.engine.templates import render, to_text

TOOL_NAME = "extract_parameters"
RESERVED = frozenset({"__is_success", "__reason", "__usage"})
TYPES = frozenset(
    {
        "string",
        "number",
        "boolean",
        "array[string]",
        "array[number]",
        "array[object]",
        "array[boolean]",
    }
)
LEGACY_TYPES = {"bool": "boolean", "select": "string"}
EMPTY: dict[str, Any] = {"string": "", "number": 0, "boolean": False}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str
    required: bool
    options: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        if self.type.startswith("array["):
            body: dict[str, Any] = {"type": "array", "items": {"type": self.type[6:-1]}}
        else:
            body = {"type": self.type}
        if self.options:
            body["enum"] = list(self.options)
        if self.description:
            body["description"] = self.description
        return body

    def empty(self) -> Any:
        return [] if self.type.startswith("array[") else EMPTY[self.type]


def declared_parameters(data: dict[str, Any]) -> list[Parameter]:
    raw = data.get("parameters")
    if not isinstance(raw, list) or not raw:
        raise NodeFailed("The parameter extractor declares no parameters", "ConfigError")
    found: list[Parameter] = []
    for position, item in enumerate(raw, start=1):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise NodeFailed(f"Parameter {position} has no name", "ConfigError")
        if name in RESERVED:
            raise NodeFailed(f"The parameter name {name} is reserved", "ConfigError")
        declared = str(item.get("type") or "string")
        kind = LEGACY_TYPES.get(declared, declared)
        if kind not in TYPES:
            raise NodeFailed(f"Parameter {name} has an unknown type {declared!r}", "ConfigError")
        options = item.get("options")
        found.append(
            Parameter(
                name=name,
                type=kind,
                description=str(item.get("description") or ""),
                required=bool(item.get("required")),
                options=tuple(str(o) for o in options) if isinstance(options, list) else (),
            )
        )
    return found


def parameters_schema(parameters: list[Parameter]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p.name: p.schema() for p in parameters},
        "required": [p.name for p in parameters if p.required],
    }


def extraction_tool(parameters: list[Parameter]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Record the parameters found in the user's input.",
            "parameters": parameters_schema(parameters),
        },
    }


def system_prompt(parameters: list[Parameter], instruction: str, *, tools: bool) -> str:
    if tools:
        parts = [
            f"Extract parameters from the user's input and call the function {TOOL_NAME} with "
            "them. Leave out any parameter the input does not give; never invent a value."
        ]
    else:
        parts = [
            "Extract parameters from the user's input. Reply with one JSON object and nothing "
            "else, valid against this JSON schema:",
            json.dumps(parameters_schema(parameters), ensure_ascii=False),
            "Leave out any parameter the input does not give; never invent a value.",
        ]
    if instruction:
        parts.append("Instructions:\n" + instruction)
    return "\n\n".join(parts)


# -- coercion ----------------------------------------------------------------------------------


class Unusable(ValueError):
    pass


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise Unusable("a number")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                pass
    raise Unusable("a number")


def _boolean(value: Any) -> bool:
    flag = read_bool(value)
    if flag is None:
        raise Unusable("true or false")
    return flag


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise Unusable("text")


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise Unusable("an object")


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "number": _number,
    "boolean": _boolean,
    "object": _object,
}


def coerce(parameter: Parameter, value: Any) -> Any:
    """``value`` as the parameter's type; raises ``Unusable`` saying what was expected."""
    if parameter.type.startswith("array["):
        item_type = parameter.type[6:-1]
        if not isinstance(value, list):
            raise Unusable(f"an array of {item_type}")
        try:
            return [_SCALARS[item_type](item) for item in value]
        except Unusable:
            raise Unusable(f"an array of {item_type}") from None
    result = _SCALARS[parameter.type](value)
    if parameter.options and result not in parameter.options:
        raise Unusable("one of: " + ", ".join(parameter.options))
    return result


def extracted_values(parameters: list[Parameter], answer: Any) -> tuple[dict[str, Any], list[str]]:
    """Every parameter's value (its empty value when unusable) and what went wrong."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    if not isinstance(answer, dict):
        problems.append("The model did not answer with the parameters")
        answer = {}
    for parameter in parameters:
        raw = answer.get(parameter.name)
        if raw is None:
            values[parameter.name] = parameter.empty()
            if parameter.required:
                problems.append(f"Parameter {parameter.name} is required")
            continue
        try:
            values[parameter.name] = coerce(parameter, raw)
        except Unusable as exc:
            values[parameter.name] = parameter.empty()
            problems.append(f"Parameter {parameter.name} must be {exc}")
    return values, problems


def model_answer(reply: ModelReply) -> Any:
    """The arguments of the extraction tool call, else a JSON object in the text."""
    for call in reply.tool_calls:
        if call.name == TOOL_NAME or len(reply.tool_calls) == 1:
            return json_in_answer(call.arguments) if call.arguments.strip() else {}
    return json_in_answer(reply.text) if reply.text.strip() else None


@register("parameter-extractor")
class ParameterExtractorNode(Node):
    calls_model = True

    def run(self, ctx: RunContext) -> NodeResult:
        parameters = declared_parameters(self.data)
        text = to_text(ctx.input_value(self.data.get("query")))
        mode = str(self.data.get("reasoning_mode") or "function_call")
        tools = mode != "prompt"
        instruction = render(str(self.data.get("instruction") or ""), ctx.pool)
        model = self.data.get("model") or {}
        messages = task_messages(
            self.data,
            ctx.pool,
            node_history(self.data, ctx.host.history),
            system=system_prompt(parameters, instruction, tools=tools),
            user=text,
        )
        params = model_params(self.data, ctx.pool)
        tool_list = [extraction_tool(parameters)] if tools else None
        tool_choice = {"type": "function", "function": {"name": TOOL_NAME}} if tools else None
        reply = call_model(ctx, model, messages, params, tools=tool_list, tool_choice=tool_choice)
        values, problems = extracted_values(parameters, model_answer(reply))
        return NodeResult(
            inputs={"query": text},
            process_data={
                **model_process_data(model, messages, params),
                "reasoning_mode": mode,
                "tools": tool_list,
                "model_reply": reply.text,
                "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments} for c in reply.tool_calls
                ],
            },
            outputs={
                **values,
                "__is_success": 0 if problems else 1,
                "__reason": "; ".join(problems) if problems else None,
                "__usage": reply.usage_outputs(),
            },
            usage=reply.usage,
        )
