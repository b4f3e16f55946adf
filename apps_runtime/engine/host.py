"""The narrow seam between the engine and whoever runs it (decisions §7).

The engine emits events and asks for model output through an ``EngineHost``; the host adds the
run's identifiers (``task_id``, ``workflow_run_id``, ``message_id``, ``conversation_id``,
``created_at``), appends every event to the run's event log, records node executions, resolves
provider configurations and owns the stop flag. Another executor (threads, Celery) only needs
another host, never a change to the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from apps_runtime.providers.types import ModelChunk
from apps_runtime.tools.types import ToolHandle, ToolOutput


class StopRequested(Exception):
    """Raised inside the engine when the host says the run was stopped."""


class FileUnavailable(Exception):
    """An uploaded file a node asked for cannot be read (unknown, not this run's, too large)."""


class EngineHost(Protocol):
    def emit(self, event: dict[str, Any]) -> None:
        """Publish one event: ``{"event": name, ...payload}`` without the run's identifiers."""

    def should_stop(self) -> bool:
        """True once the run was stopped; checked before each node and each streamed chunk."""

    def read_upload(self, upload_id: str, max_bytes: int) -> bytes:
        """The bytes of an upload given to this run (a ``local_file`` input or file).

        Raises ``FileUnavailable`` when the run was not given that upload, it is gone, or it is
        larger than ``max_bytes``.
        """
        ...

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
        """Stream a chat completion from the app workspace's configuration for ``provider``.

        ``tools`` (OpenAI function format) and ``tool_choice`` are offered to the model only when
        given; the final chunk then carries the model's complete ``tool_calls``.

        Raises ``ProviderError`` (``ProviderNotConfigured`` when nothing is configured). The
        iterator is closed (and the HTTP call aborted) when the consumer stops early.
        """
        ...

    def history(self, limit: int | None) -> list[tuple[str, str]]:
        """Earlier turns of this conversation as (query, answer), oldest first, at most
        ``limit`` of the most recent (``None``: all); [] outside a conversation."""
        ...

    def agent_history(self, limit: int | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """Like ``history``, each turn with the agent thoughts stored with its message."""
        ...

    def tool(self, entry: Mapping[str, Any]) -> ToolHandle:
        """The tool a DSL entry (provider_type, provider_id, provider_name, tool_name) names in
        the app's workspace. Raises ``ToolUnavailable`` saying what is missing."""
        ...

    def call_tool(self, tool: ToolHandle, arguments: Any) -> ToolOutput:
        """Call a tool from ``tool``: arguments checked against its schema, the run's call limit,
        the deadline, the output cap and the audit all apply. Raises ``ToolError``."""
        ...
