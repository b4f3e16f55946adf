"""``human-input`` (dsl.md §4.9), as far as pausing: the run pauses with the rendered form; a
resume continues along the chosen action's edge (or ``__timeout``)."""

from __future__ import annotations

import re
from typing import Any

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeResult, RunContext
from apps_runtime.engine.templates import render, to_text
from apps_runtime.engine.types import Pause, ResumeError, ResumeInput
from apps_runtime.engine.variables import MISSING, VariablePool

TIMEOUT_HANDLE = "__timeout"
DEFAULT_TIMEOUT = 36
UNIT_SECONDS = {"hour": 3600, "day": 86400, "minute": 60}
OUTPUT_PLACEHOLDER = re.compile(r"\{\{#\$outputs?\.([a-zA-Z_][a-zA-Z0-9_]*)#\}\}")


def _resolve_default(spec: Any, pool: VariablePool) -> Any:
    """An input's default: ``{type: variable, selector}`` or ``{type: constant, value}`` (and the
    earliest ``placeholder`` form)."""
    if not isinstance(spec, dict):
        return spec if spec is not None else ""
    if spec.get("type") == "variable":
        value = pool.get(spec.get("selector") or [])
        return "" if value is MISSING else value
    value = spec.get("value")
    return "" if value is None else value


def timeout_seconds(data: dict[str, Any]) -> int:
    try:
        amount = int(data.get("timeout") or DEFAULT_TIMEOUT)
    except (TypeError, ValueError):
        amount = DEFAULT_TIMEOUT
    return max(1, amount) * UNIT_SECONDS.get(str(data.get("timeout_unit") or "hour"), 3600)


@register("human-input")
class HumanInputNode(Node):
    @property
    def branch_handles(self) -> bool:
        return True

    def _inputs(self) -> list[dict[str, Any]]:
        return [i for i in self.data.get("inputs") or [] if isinstance(i, dict)]

    def _actions(self) -> list[dict[str, Any]]:
        return [
            {
                "id": str(a.get("id")),
                "title": str(a.get("title") or a.get("id")),
                "button_style": str(a.get("button_style") or "default"),
            }
            for a in self.data.get("user_actions") or []
            if isinstance(a, dict) and a.get("id")
        ]

    def run(self, ctx: RunContext) -> NodeResult:
        form_content = render(str(self.data.get("form_content") or ""), ctx.pool)
        defaults: dict[str, Any] = {}
        fields = []
        for item in self._inputs():
            name = str(item.get("output_variable_name") or "")
            spec = item.get("default", item.get("placeholder"))
            value = _resolve_default(spec, ctx.pool)
            defaults[name] = value
            fields.append({**item, "default": {"type": "constant", "value": value, "selector": []}})
        deliveries = []
        for method in self.data.get("delivery_methods") or []:
            if not isinstance(method, dict):
                continue
            method = dict(method)
            config = method.get("config")
            if isinstance(config, dict):
                config = dict(config)
                for key in ("subject", "body"):
                    if isinstance(config.get(key), str):
                        config[key] = render(config[key], ctx.pool)
                method["config"] = config
            deliveries.append(method)
        pause = Pause(
            node_id=self.id,
            node_title=self.title,
            form_content=form_content,
            inputs=fields,
            actions=self._actions(),
            timeout_seconds=timeout_seconds(self.data),
            delivery_methods=deliveries,
            resolved_default_values=defaults,
        )
        return NodeResult(
            pause=pause, pause_state={"form_content": form_content, "defaults": defaults}
        )

    def resume(self, ctx: RunContext, resume: ResumeInput, saved: dict[str, Any]) -> NodeResult:
        defaults = dict(saved.get("defaults") or {})
        values = dict(resume.values or {})
        names = [str(i.get("output_variable_name") or "") for i in self._inputs()]
        if resume.timed_out:
            action_id, action_title, handle = "", "", TIMEOUT_HANDLE
            values = {name: values.get(name, defaults.get(name, "")) for name in names}
        else:
            action = next((a for a in self._actions() if a["id"] == resume.action_id), None)
            if action is None:
                raise ResumeError(f"Unknown action {resume.action_id!r}")
            missing = [name for name in names if name not in values]
            if missing:
                raise ResumeError(f"Missing input: {', '.join(missing)}")
            action_id, action_title, handle = action["id"], action["title"], action["id"]
            values = {name: values[name] for name in names}
        content = str(saved.get("form_content") or "")
        rendered = OUTPUT_PLACEHOLDER.sub(
            lambda m: to_text(values.get(m.group(1), "")) if m.group(1) in values else m.group(0),
            content,
        )
        outputs = {
            **values,
            "__action_id": action_id,
            "__action_value": action_title,
            "__rendered_content": rendered,
        }
        return NodeResult(inputs=dict(values), outputs=outputs, handle=handle)
