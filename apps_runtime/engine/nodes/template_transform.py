"""``template-transform`` (dsl.md §4.5): Jinja2 in a sandbox, variables as native values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from django.conf import settings

from apps_runtime.engine.jinja_sandbox import TemplateBudgetExceeded, render
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.variables import MISSING, VariablePool


def render_jinja2(
    source: str,
    variables: dict[str, Any],
    *,
    should_stop: Callable[[], bool] | None = None,
    what: str = "Output",
) -> str:
    """Render untrusted Jinja2 source under the render budget (jinja_sandbox); its output may
    not pass ``TEMPLATE_TRANSFORM_MAX_LENGTH`` characters. Every failure is a NodeFailed;
    a stop of the run raises ``StopRequested``."""
    limit = settings.TEMPLATE_TRANSFORM_MAX_LENGTH
    try:
        output = render(source, variables, max_length=limit, should_stop=should_stop)
    except TemplateBudgetExceeded as exc:
        raise NodeFailed(f"Template stopped: {exc}", "TemplateBudgetExceeded") from None
    except jinja2.exceptions.SecurityError as exc:
        raise NodeFailed(f"Template is not allowed: {exc}", "TemplateSecurityError") from None
    except jinja2.exceptions.TemplateError as exc:
        raise NodeFailed(f"Template error: {exc}", "TemplateRenderError") from None
    except RecursionError:
        raise NodeFailed("Template error: too deeply nested", "TemplateRenderError") from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, LookupError) as exc:
        raise NodeFailed(f"Template error: {exc}", "TemplateRenderError") from None
    if output is None:
        code = "OutputTooLong" if what == "Output" else f"{what}TooLong"
        raise NodeFailed(f"{what} length exceeds {limit} characters", code)
    return output


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
        source = str(self.data.get("template") or "")
        output = render_jinja2(source, variables, should_stop=ctx.host.should_stop)
        return NodeResult(inputs=variables, outputs={"output": output})
