"""What the engine returns to its caller (engine-design.md "Engine API")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps_runtime.providers.types import Usage

SUCCEEDED = "succeeded"
FAILED = "failed"
STOPPED = "stopped"
PAUSED = "paused"
PARTIAL_SUCCEEDED = "partial-succeeded"


@dataclass
class Pause:
    """A human-input node waiting for a person (dsl.md §4.9)."""

    node_id: str
    node_title: str
    form_content: str  # rendered; ``{{#$output.x#}}`` placeholders kept
    inputs: list[dict[str, Any]]  # field definitions, each with ``default`` resolved to a constant
    actions: list[dict[str, Any]]  # [{id, title, button_style}]
    timeout_seconds: int
    delivery_methods: list[dict[str, Any]]  # email subject/body rendered
    resolved_default_values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResumeInput:
    node_id: str
    action_id: str  # "" on timeout
    values: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False


@dataclass
class Outcome:
    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_code: str | None = None
    answer: str = ""
    usage: Usage = field(default_factory=Usage)
    total_steps: int = 0
    pause: Pause | None = None
    state: dict[str, Any] | None = None
    exceptions_count: int = 0
    # ``conversation.*`` values an assigner changed (saved to the conversation by the run layer).
    conversation_variables: dict[str, Any] = field(default_factory=dict)
    agent_thoughts: list[dict[str, Any]] = field(default_factory=list)


class ResumeError(ValueError):
    """A resume that does not fit the paused run (unknown node or action, missing input)."""


class InputError(ValueError):
    """A start input that breaks its variable's rules; the message names the variable."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable
        self.message = message
