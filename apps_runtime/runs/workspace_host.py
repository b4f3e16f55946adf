"""What every engine host of this service does the same way for a workspace: model calls through
the workspace's provider configuration, and tools found and called through the tool registry
(with the per-run limit on tool calls). ``RunHost`` (a run's host) and the host of a workflow
run inside a workflow tool both build on it.

Database use is short: a host never holds a connection while it waits on a model or a tool.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from apps_runtime.providers.types import ModelChunk
from apps_runtime.tools.types import ToolError, ToolHandle, ToolOutput


def db_acquire() -> None:
    # Inside a test's transaction the connection is the test's own and is left alone.
    if not connection.in_atomic_block:
        close_old_connections()


def db_release() -> None:
    if not connection.in_atomic_block:
        connection.close()


class WorkspaceHost:
    workspace_id: Any
    run_id: uuid.UUID | None

    def __init__(self) -> None:
        self._tool_calls = 0
        self._tool_lock = threading.Lock()

    def should_stop(self) -> bool:
        raise NotImplementedError

    def chat_stream(
        self,
        *,
        provider: str,
        model: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> Iterator[ModelChunk]:
        from apps_runtime.providers.client import chat_stream
        from apps_runtime.providers.selectors import provider_endpoint_for

        try:
            db_acquire()
            endpoint = provider_endpoint_for(self.workspace_id, provider)
        finally:
            db_release()
        return chat_stream(
            endpoint,
            model=model,
            messages=messages,
            params=params,
            tools=tools,
            tool_choice=tool_choice,
            should_stop=self.should_stop,
        )

    def tool(self, entry: Mapping[str, Any]) -> ToolHandle:
        from apps_runtime.tools.registry import tool_resolve

        try:
            db_acquire()
            return tool_resolve(self.workspace_id, entry)
        finally:
            db_release()

    def call_tool(self, tool: ToolHandle, arguments: Any) -> ToolOutput:
        from apps_runtime.tools.invoke import tool_call_refused, tool_invoke
        from apps_runtime.tools.registry import BoundTool

        if not isinstance(tool, BoundTool):
            raise ToolError("not a tool of this run")
        with self._tool_lock:
            self._tool_calls += 1
            over = self._tool_calls > settings.TOOL_MAX_CALLS_PER_RUN
        try:
            db_acquire()
            if over:
                message = (
                    f"the run reached its limit of {settings.TOOL_MAX_CALLS_PER_RUN} tool calls"
                )
                tool_call_refused(
                    provider=tool.provider_label,
                    tool=tool.spec.name,
                    arguments=arguments,
                    workspace_id=self.workspace_id,
                    run_id=self.run_id,
                    error=message,
                )
                raise ToolError(message)
            return tool_invoke(
                tool,
                arguments,
                workspace_id=self.workspace_id,
                run_id=self.run_id,
                should_stop=self.should_stop,
            )
        finally:
            db_release()
