"""``template-transform`` (dsl.md §4.5): Jinja2 in a sandbox, variables as native values."""

from __future__ import annotations

from typing import Any

import jinja2
from django.conf import settings
from jinja2.sandbox import SandboxedEnvironment

from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.variables import MISSING, VariablePool

# Exponents beyond this make integers no template needs and cost unbounded CPU.
MAX_EXPONENT = 1000


class _Sandbox(SandboxedEnvironment):
    """The Jinja2 sandbox, plus guards on the two operators that can build huge values from a
    short template (``'x' * 10**9``, ``9 ** 9 ** 9``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limit = settings.TEMPLATE_TRANSFORM_MAX_LENGTH
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                    if len(sequence) * times > limit:
                        raise jinja2.exceptions.SecurityError("the repeated value is too large")
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise jinja2.exceptions.SecurityError("the exponent is too large")
        return super().call_binop(context, operator, left, right)


_environment = _Sandbox(autoescape=False, keep_trailing_newline=True)


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
