"""What a model call yields and how it fails: the types shared by the provider client, the engine
and the run layer (they are the seam between them, so they depend on nothing else)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """Token counts exactly as the provider reported them (its final usage chunk)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for, complete: ``arguments`` is the JSON text exactly as the
    model wrote it (the caller parses and validates it against the tool's schema)."""

    id: str
    name: str
    arguments: str = ""


@dataclass(frozen=True)
class ModelChunk:
    """One piece of a streamed completion. ``usage``, ``finish_reason`` and ``tool_calls`` (the
    calls assembled from every streamed fragment, in the model's order) arrive at the end."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


class ProviderError(Exception):
    """A model call failed; ``code`` and ``status`` are the contract's (decisions §8):
    connection or 5xx ``completion_request_error`` (400), 429 ``rate_limit_error`` (429),
    401/403 or no configuration ``provider_not_initialize`` (400)."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ProviderNotConfigured(ProviderError):
    def __init__(self, message: str) -> None:
        super().__init__("provider_not_initialize", message, status=400)
