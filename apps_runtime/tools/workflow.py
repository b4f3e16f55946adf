"""``workflow`` providers: a published workflow app of the same workspace, served as one tool.

The tool's parameters are the workflow's start variables; a call runs the published graph inside
the caller's job (through the engine's one graph walk, with a host that keeps its events to
itself), under the tool deadline and the caller's stop, and answers the workflow's outputs.
Workflow tools may call tools themselves, at most ``MAX_DEPTH`` deep.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from apps_runtime.models import App, AppMode
from apps_runtime.runs.workspace_host import WorkspaceHost
from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.types import ToolError, ToolOutput

MAX_DEPTH = 3
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")
_depth = threading.local()

# Start-variable types → JSON schema (file inputs cannot come from a model or a node here).
_TYPES: dict[str, dict[str, Any]] = {
    "text-input": {"type": "string"},
    "paragraph": {"type": "string"},
    "select": {"type": "string"},
    "number": {"type": "number"},
    "checkbox": {"type": "boolean"},
    "json_object": {"type": "object"},
}


def tool_name(name: str) -> str:
    return _NAME_UNSAFE.sub("_", name.strip()).strip("_")[:64] or "workflow"


def parameters_of(variables: list[Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for variable in variables:
        if not isinstance(variable, dict) or not variable.get("variable"):
            continue
        schema = _TYPES.get(str(variable.get("type") or ""))
        if schema is None:
            continue
        name = str(variable["variable"])
        prop = dict(schema)
        if variable.get("type") == "select" and isinstance(variable.get("options"), list):
            prop["enum"] = [str(option) for option in variable["options"]]
        label = variable.get("label") or variable.get("description")
        if label:
            prop["description"] = str(label)
        properties[name] = prop
        if variable.get("required"):
            required.append(name)
    schema_: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema_["required"] = required
    return schema_


def prepare_workflow(provider: ToolProvider) -> None:
    """A workflow provider names a published workflow app of its own workspace."""
    app: App | None = provider.workflow_app
    if app is None:
        raise ToolError("a workflow provider needs the workflow app it serves")
    if app.workspace_id != provider.workspace_id:
        raise ToolError("the workflow app must belong to the provider's workspace")
    if app.mode != AppMode.WORKFLOW:
        raise ToolError(f"only workflow apps can be tools (this one is {app.mode})")
    version = app.published_workflow
    if version is None:
        raise ToolError("the workflow app has no published workflow")
    provider.tools = [
        {
            "name": tool_name(provider.name or app.name),
            "label": provider.name or app.name,
            "description": provider.description or app.description,
            "parameters": parameters_of(version.start_variables()),
        }
    ]
    provider.tools_refreshed_at = timezone.now()


class _ToolRunHost(WorkspaceHost):
    """The host of a workflow run inside a tool call: no events leave it, the stop is the
    caller's stop or the deadline; models and tools as for any run of the workspace."""

    def __init__(
        self, workspace_id: Any, should_stop: Callable[[], bool] | None, deadline: float
    ) -> None:
        super().__init__()
        from apps_runtime.tools.invoke import current_run_id

        self.workspace_id = workspace_id
        self.run_id = current_run_id.get()  # nested calls are audited with the caller's run
        self._caller_stop = should_stop
        self._deadline = deadline
        self.timed_out = False

    def emit(self, event: dict[str, Any]) -> None:
        return None

    def should_stop(self) -> bool:
        if time.monotonic() > self._deadline:
            self.timed_out = True
            return True
        return bool(self._caller_stop and self._caller_stop())

    def history(self, limit: int | None) -> list[tuple[str, str]]:
        return []

    def read_upload(self, upload_id: str, max_bytes: int) -> bytes:
        from apps_runtime.engine.host import FileUnavailable

        raise FileUnavailable("a workflow run as a tool is given no uploads")

    def agent_history(self, limit: int | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        return []


def caller(
    provider: ToolProvider,
) -> Callable[[dict[str, Any], float, Callable[[], bool] | None], ToolOutput]:
    """The call of a workflow tool, with what it needs read now (no database during the call
    except the workspace's model provider and nested tools)."""
    from apps_runtime.runs.jobs import version_environment

    app = provider.workflow_app
    version = app.published_workflow if app is not None else None
    if app is None or version is None or app.workspace_id != provider.workspace_id:
        raise ToolError(f"the workflow of tool provider {provider.name!r} is not published")
    graph = version.graph or {}
    environment = version_environment(version)
    system = {"app_id": str(app.id), "workflow_id": str(version.id), "invoke_from": "tool"}
    workspace_id = provider.workspace_id

    def call(
        arguments: dict[str, Any], deadline: float, should_stop: Callable[[], bool] | None
    ) -> ToolOutput:
        from apps_runtime.engine import run_workflow

        depth = getattr(_depth, "value", 0)
        if depth >= MAX_DEPTH:
            raise ToolError(f"workflow tools may nest at most {MAX_DEPTH} deep")
        host = _ToolRunHost(workspace_id, should_stop, deadline)
        _depth.value = depth + 1
        try:
            outcome = run_workflow(
                graph,
                mode=AppMode.WORKFLOW,
                inputs=dict(arguments),
                system={**system, "workflow_run_id": str(uuid.uuid4())},
                environment=environment,
                conversation={},
                host=host,
            )
        finally:
            _depth.value = depth
        if host.timed_out:
            raise ToolError("the workflow did not finish before the tool call's deadline")
        if outcome.status == "stopped":
            raise ToolError("the run was stopped")
        if outcome.status == "paused":
            raise ToolError("the workflow waits for human input, which a tool cannot give")
        if outcome.status == "failed":
            raise ToolError(f"the workflow failed: {outcome.error or 'no details'}")
        outputs = outcome.outputs if isinstance(outcome.outputs, dict) else {}
        strings = [v for v in outputs.values() if isinstance(v, str)]
        text = strings[0] if len(outputs) == 1 and strings else json.dumps(outputs, default=str)
        return ToolOutput(text=text, json=[outputs], variables=dict(outputs))

    return call
