"""``template-transform`` (dsl.md §4.5): Jinja2 in a sandbox, variables as native values."""

from __future__ import annotations

from typing import Any

import jinja2
from django.conf import settings
from jinja2.sandbox import SandboxedEnvironment

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.variables import MISSING, VariablePool

_environment = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


def render_jinja2(source: str, variables: dict[str, Any]) -> str:
    """Render untrusted Jinja2 source in the sandbox; errors become a NodeFailed."""
    try:
        return _environment.from_string(source).render(**variables)
    except jinja2.exceptions.SecurityError as exc:
        raise NodeFailed(f"Template is not allowed: {exc}", "TemplateSecurityError") from None
    except jinja2.exceptions.TemplateError as exc:
        raise NodeFailed(f"Template error: {exc}", "TemplateRenderError") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        raise NodeFailed(f"Template error: {exc}", "TemplateRenderError") from None


def template_variables(items: Any, pool: VariablePool, *, missing: Any = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict) and item.get("variable"):
            value = pool.get(item.get("value_selector") or [])
            values[str(item["variable"])] = missing if value is MISSING else value
    return values


@register("template-transform")
class TemplateTransformNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        variables = template_variables(self.data.get("variables"), ctx.pool)
        output = render_jinja2(str(self.data.get("template") or ""), variables)
        limit = settings.TEMPLATE_TRANSFORM_MAX_LENGTH
        if len(output) > limit:
            raise NodeFailed(f"Output length exceeds {limit} characters", "OutputTooLong")
        return NodeResult(inputs=variables, outputs={"output": output})
