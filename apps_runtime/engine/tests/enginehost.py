"""A small EngineHost for engine tests: records events and model requests, answers with given
chunks (a test double of the run layer; the engine under test is real)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from apps_runtime.engine.host import FileUnavailable
from apps_runtime.providers.types import ModelChunk, ProviderError, ToolCall, Usage
from apps_runtime.tools.types import ToolHandle, ToolOutput, ToolUnavailable


@dataclass
class ModelCall:
    provider: str
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


@dataclass
class RecordingHost:
    # Each model call takes the next reply: a list of text chunks (the last carrying usage), a
    # (chunks, usage) pair, a list of ToolCall (the model calls those tools), or a ProviderError.
    replies: list[Any] = field(default_factory=list)
    turns: list[tuple[str, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    history_limits: list[int | None] = field(default_factory=list)
    stop_when: Callable[[RecordingHost], bool] | None = None
    closed: int = 0
    # Upload id -> bytes: the uploads this run was given (read_upload).
    uploads: dict[str, bytes] = field(default_factory=dict)
    # Tools by tool_name (``tools.registry.BoundTool``s); calls recorded as (name, arguments).
    tools: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)
    thought_turns: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def should_stop(self) -> bool:
        return bool(self.stop_when and self.stop_when(self))

    def read_upload(self, upload_id: str, max_bytes: int) -> bytes:
        if upload_id not in self.uploads:
            raise FileUnavailable("this run was not given that upload")
        if len(self.uploads[upload_id]) > max_bytes:
            raise FileUnavailable(f"it is larger than {max_bytes} bytes")
        return self.uploads[upload_id]

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
        self.calls.append(ModelCall(provider, model, messages, params, tools, tool_choice))
        reply = self.replies.pop(0) if self.replies else ["ok"]
        if isinstance(reply, ProviderError):
            raise reply
        if isinstance(reply, list) and reply and all(isinstance(c, ToolCall) for c in reply):
            return iter(
                [
                    ModelChunk(
                        usage=Usage(3, 1, 4), finish_reason="tool_calls", tool_calls=tuple(reply)
                    )
                ]
            )
        return self._stream(reply)

    def _stream(self, reply: Any) -> Iterator[ModelChunk]:
        try:
            if isinstance(reply, tuple):
                texts, usage = reply
            else:
                texts, usage = reply, Usage(3, len(reply), 3 + len(reply))
            for index, text in enumerate(texts):
                if isinstance(text, ProviderError):
                    raise text
                last = index == len(texts) - 1
                yield ModelChunk(
                    text=text, usage=usage if last else None, finish_reason="stop" if last else None
                )
        finally:
            self.closed += 1

    def history(self, limit: int | None) -> list[tuple[str, str]]:
        self.history_limits.append(limit)
        return list(self.turns if limit is None else self.turns[-limit:] if limit else [])

    def agent_history(self, limit: int | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        return list(self.thought_turns)

    def tool(self, entry: Any) -> ToolHandle:
        found = self.tools.get(str(entry.get("tool_name") or ""))
        if found is None:
            raise ToolUnavailable(f"no tool {entry.get('tool_name')!r}")
        return found  # type: ignore[no-any-return]

    def call_tool(self, tool: ToolHandle, arguments: Any) -> ToolOutput:
        from apps_runtime.tools.invoke import arguments_check, output_cap

        self.tool_calls.append((tool.spec.name, arguments))
        checked = arguments_check(tool, arguments)  # type: ignore[arg-type]
        call = tool.call  # type: ignore[attr-defined]
        return output_cap(call(checked, float("inf"), self.should_stop))  # type: ignore[no-any-return]

    # helpers for assertions
    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == name]

    def finished(self) -> dict[str, dict[str, Any]]:
        return {e["data"]["node_id"]: e["data"] for e in self.named("node_finished")}

    def ran(self) -> list[str]:
        return [e["data"]["node_id"] for e in self.named("node_started")]

    def answer(self) -> str:
        return "".join(e["answer"] for e in self.named("message"))


def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "custom", "data": {"type": kind, "title": node_id, **data}}


def edge(source: str, target: str, handle: str = "source") -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": handle,
        "targetHandle": "target",
    }


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}
