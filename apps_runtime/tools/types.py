"""What a tool is to the engine: its description for a model and how a call ends. Shared by the
tool registry, the engine (agent loop, tool node) and the run layer, so it depends on nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolSpec:
    """One callable tool: ``parameters`` is the JSON schema (an object) its arguments follow."""

    name: str
    description: str
    parameters: dict[str, Any]
    label: str = ""
    provider: str = ""  # the provider's id as a DSL names it, for events and the audit


@dataclass
class ToolOutput:
    """What a call returned: ``text`` for a model, ``json`` values and ``files`` for a node, and
    ``variables`` the tool declares (a workflow tool's outputs, an API's JSON object)."""

    text: str = ""
    json: list[Any] = field(default_factory=list)
    files: list[Any] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


class ToolHandle(Protocol):
    """A tool found for a run (the engine only reads its description)."""

    @property
    def spec(self) -> ToolSpec: ...


class ToolError(Exception):
    """A call failed; the message is safe to show to the app's user and to the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolUnavailable(ToolError):
    """The tool a DSL names cannot be found or used in the app's workspace."""


def openai_function(spec: ToolSpec) -> dict[str, Any]:
    """The tool in the chat-completions ``tools`` format."""
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": spec.parameters,
        },
    }


def agent_tool_entry(tool: Any) -> dict[str, Any]:
    """An agent node's tool (``agent_parameters.tools``) in the shape of a tool node's entry:
    its provider type is under ``type`` there."""
    return {
        "provider_type": tool.get("provider_type") or tool.get("type") or "",
        "provider_id": tool.get("provider_id") or "",
        "provider_name": tool.get("provider_name") or "",
        "tool_name": tool.get("tool_name") or "",
    }
