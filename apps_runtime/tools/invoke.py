"""One tool call: arguments checked against the tool's JSON schema first, an overall deadline, the
output capped in size, and an audit row for every call (made, failed or refused)."""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import jsonschema
from django.conf import settings

from apps_runtime.tools.models import ToolCallRecord
from apps_runtime.tools.registry import BoundTool
from apps_runtime.tools.types import ToolError, ToolOutput

logger = logging.getLogger("difyapi.tools")

AUDIT_ARGUMENT_CHARS = 2000
# The run a tool call belongs to, for the calls a workflow tool makes inside it.
current_run_id: contextvars.ContextVar[Any] = contextvars.ContextVar("tool_run_id", default=None)
TRUNCATED = "\n[output truncated to {size} bytes]"


def arguments_check(bound: BoundTool, arguments: Any) -> dict[str, Any]:
    """``arguments`` if they fit the tool's schema; ``ToolError`` saying what is wrong."""
    if not isinstance(arguments, dict):
        raise ToolError(f"the arguments of {bound.spec.name} must be a JSON object")
    try:
        validator = jsonschema.Draft7Validator(bound.spec.parameters)
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    except jsonschema.SchemaError:
        return arguments  # a provider's broken schema does not block its calls
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path)
        prefix = f"{where}: " if where else ""
        raise ToolError(f"invalid arguments for {bound.spec.name}: {prefix}{error.message}")
    return arguments


def output_cap(output: ToolOutput) -> ToolOutput:
    """Keep what a tool returns within ``TOOL_MAX_OUTPUT_BYTES`` (text cut, big JSON dropped)."""
    cap = settings.TOOL_MAX_OUTPUT_BYTES
    raw = output.text.encode("utf-8")
    if len(raw) > cap:
        output.text = raw[:cap].decode("utf-8", errors="ignore") + TRUNCATED.format(size=cap)
    structured = json.dumps([output.json, output.variables], default=str, ensure_ascii=False)
    if len(structured.encode("utf-8")) > cap:
        output.json, output.variables = [], {}
    return output


def tool_invoke(
    bound: BoundTool,
    arguments: Any,
    *,
    workspace_id: Any,
    run_id: Any,
    should_stop: Callable[[], bool] | None = None,
) -> ToolOutput:
    """Call ``bound`` and audit it; raises ``ToolError`` (the message fit for a model to read)."""
    started = time.monotonic()
    status, error, size = "succeeded", "", 0
    try:
        checked = arguments_check(bound, arguments)
        deadline = started + settings.TOOL_CALL_DEADLINE_SECONDS
        token = current_run_id.set(run_id)
        try:
            output = output_cap(bound.call(checked, deadline, should_stop))
        finally:
            current_run_id.reset(token)
        if time.monotonic() > deadline:
            raise ToolError(
                f"{bound.spec.name} took longer than {settings.TOOL_CALL_DEADLINE_SECONDS} s"
            )
        size = len(output.text.encode("utf-8"))
        return output
    except ToolError as exc:
        status, error = "failed", exc.message
        raise
    except Exception as exc:
        logger.exception("tool %s/%s failed", bound.provider_label, bound.spec.name)
        status, error = "failed", "the tool failed with an internal error"
        raise ToolError(error) from exc
    finally:
        _audit(
            bound,
            arguments,
            workspace_id=workspace_id,
            run_id=run_id,
            status=status,
            error=error,
            size=size,
            elapsed=time.monotonic() - started,
        )


def tool_call_refused(
    *, provider: str, tool: str, arguments: Any, workspace_id: Any, run_id: Any, error: str
) -> None:
    """Audit a call that never reached a tool (unknown tool, over the run's limit)."""
    _write(
        provider=provider,
        tool=tool,
        arguments=arguments,
        workspace_id=workspace_id,
        run_id=run_id,
        status="refused",
        error=error,
        size=0,
        elapsed=0.0,
    )


def _audit(bound: BoundTool, arguments: Any, **fields: Any) -> None:
    _write(provider=bound.provider_label, tool=bound.spec.name, arguments=arguments, **fields)


def _write(
    *,
    provider: str,
    tool: str,
    arguments: Any,
    workspace_id: Any,
    run_id: Any,
    status: str,
    error: str,
    size: int,
    elapsed: float,
) -> None:
    text = json.dumps(arguments, default=str, ensure_ascii=False)
    stored: Any = arguments if len(text) <= AUDIT_ARGUMENT_CHARS else {"truncated": text[:2000]}
    try:
        ToolCallRecord.objects.create(
            run_id=run_id,
            workspace_id=workspace_id,
            provider=provider[:255],
            tool=tool[:255],
            arguments=stored if isinstance(stored, dict) else {"value": stored},
            status=status,
            error=error[:4000],
            output_bytes=size,
            elapsed_time=round(elapsed, 3),
        )
    except Exception:
        logger.exception("tool call of %s/%s not audited", provider, tool)
