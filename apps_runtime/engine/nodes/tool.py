"""``tool`` (dsl.md §4.14): call one tool of the app's workspace with arguments built from
``tool_configurations`` and ``tool_parameters`` (``mixed`` templates, ``variable`` selectors,
``constant`` values). Outputs ``text``, ``json``, ``files`` and the tool's own variables; a failure
goes through the node's retries and error strategy like any other."""

from __future__ import annotations

import json
from typing import Any

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.templates import render
from apps_runtime.engine.variables import MISSING
from apps_runtime.tools.types import ToolError, ToolUnavailable

RESERVED_OUTPUTS = ("text", "json", "files")


def coerce(value: Any, schema: Any) -> Any:
    """A template's text turned into the type the tool's schema asks for, when it reads as one."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if not isinstance(value, str) or kind in (None, "string"):
        return value
    text = value.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind in ("object", "array"):
            return json.loads(text)
    except ValueError:
        return value
    return value


def tool_arguments(data: dict[str, Any], ctx: RunContext, schema: dict[str, Any]) -> dict[str, Any]:
    found = schema.get("properties")
    properties: dict[str, Any] = found if isinstance(found, dict) else {}
    arguments: dict[str, Any] = {}
    configurations = data.get("tool_configurations")
    parameters = data.get("tool_parameters")
    for source in (configurations, parameters):
        if not isinstance(source, dict):
            continue
        for name, raw in source.items():
            if isinstance(raw, dict) and "type" in raw and "value" in raw:
                kind, value = raw.get("type"), raw.get("value")
                if kind == "mixed":
                    value = render(str(value or ""), ctx.pool)
                elif kind == "variable":
                    value = ctx.pool.get(value) if isinstance(value, list) else MISSING
                    if value is MISSING:
                        continue
            else:
                value = raw  # tool_configurations of older DSLs: plain values
            if value is None or value == "":
                continue
            arguments[str(name)] = coerce(value, properties.get(name))
    return arguments


@register("tool")
class ToolNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        try:
            tool = ctx.host.tool(self.data)
        except ToolUnavailable as exc:
            raise NodeFailed(exc.message, "ToolUnavailable") from None
        spec = tool.spec
        arguments = tool_arguments(self.data, ctx, spec.parameters)
        ctx.check_stop()
        try:
            output = ctx.host.call_tool(tool, arguments)
        except ToolError as exc:
            raise NodeFailed(exc.message, "ToolInvokeError") from None
        outputs: dict[str, Any] = {
            "text": output.text,
            "files": list(output.files),
            "json": list(output.json),
        }
        for key, value in output.variables.items():
            if key not in RESERVED_OUTPUTS:
                outputs[key] = value
        return NodeResult(
            inputs=arguments,
            process_data={"provider": spec.provider, "tool": spec.name},
            outputs=outputs,
        )
