"""The OpenAI-compatible streaming chat client (decisions §8).

``chat_stream(endpoint, model=..., messages=..., params=...)`` posts
``<base_url>/chat/completions`` with ``stream: true`` and
``stream_options: {include_usage: true}`` and yields :class:`ModelChunk` s: one per content delta,
then one last chunk carrying the provider's own ``usage`` (``None`` if it reported none), the
``finish_reason`` and, when ``tools`` were offered and the model called some, the complete
``tool_calls`` (assembled from the streamed ``delta.tool_calls`` fragments by their ``index``).
Failures raise :class:`ProviderError` with the contract's codes.

Aborting: closing the iterator (``close()``, leaving a ``with closing(...)`` block, or garbage
collection) closes the HTTP connection. The call runs under a
:class:`~apps_runtime.engine.callwatch.CallWatch`: with ``should_stop``, its thread asks it every
``PROVIDER_STOP_POLL_MS`` while the call is open (connecting and waiting for headers included),
so a provider that stalls is still abandoned at once: the socket is shut down and the iterator
raises ``StopRequested``. The whole call, streaming included, has a total deadline of
``PROVIDER_DEADLINE_SECONDS`` (docs/decisions/16-budgets.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from apps_runtime.engine.callwatch import CallDeadlineExceeded, CallWatch
from apps_runtime.engine.outbound import watched_transport
from apps_runtime.providers.types import ModelChunk, ProviderError, ToolCall, Usage

logger = logging.getLogger("difyapi.providers")

# Body keys the client owns: completion params never override them.
RESERVED_KEYS = frozenset({"model", "messages", "stream", "stream_options", "tools", "tool_choice"})
MAX_ERROR_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class ProviderEndpoint:
    """Where and how to call one provider. ``api_key`` is plaintext: keep it out of logs
    (it is excluded from ``repr``)."""

    provider: str
    base_url: str
    api_key: str = field(default="", repr=False)
    models: tuple[str, ...] = ()
    source: str = "environment"  # "workspace" | "workspace_default" | "environment"

    @property
    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def request_body(
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any] | None,
    *,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body: completion params forwarded (empty values and an empty ``stop`` dropped),
    then the keys the client owns (``tools`` in the OpenAI function format, and ``tool_choice``,
    only when tools are offered)."""
    body: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if key in RESERVED_KEYS or value is None or value == [] or value == "":
            continue
        body[key] = value
    body.update(
        model=model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    if tools:
        body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    return body


def completion_request_error(message: str) -> ProviderError:
    return ProviderError("completion_request_error", message, status=400)


def chat_stream(
    endpoint: ProviderEndpoint,
    *,
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict[str, Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[ModelChunk]:
    """Stream one chat completion (see the module docstring).

    Raises ``ProviderError``: connection failure, timeout, 5xx or a broken stream
    ``completion_request_error`` (400); 429 ``rate_limit_error`` (429); 401/403
    ``provider_not_initialize`` (400). Raises ``StopRequested`` when ``should_stop`` (called
    from a watcher thread; it must be thread-safe) returns true while the call is open.
    """
    body = request_body(model, messages, params, tools=tools, tool_choice=tool_choice)
    headers = {"Accept": "text/event-stream"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    timeout = httpx.Timeout(
        settings.PROVIDER_READ_TIMEOUT_SECONDS, connect=settings.PROVIDER_CONNECT_TIMEOUT_SECONDS
    )
    where = urlsplit(endpoint.base_url).netloc or endpoint.base_url
    deadline = settings.PROVIDER_DEADLINE_SECONDS
    watch = CallWatch(deadline, should_stop, poll_ms=settings.PROVIDER_STOP_POLL_MS)
    try:
        with (
            watch,
            httpx.Client(
                timeout=timeout, follow_redirects=False, transport=watched_transport(watch)
            ) as client,
            client.stream("POST", endpoint.chat_url, json=body, headers=headers) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise _status_error(response, endpoint.provider)
            yield from _chunks(response, watch)
    except CallDeadlineExceeded:
        raise completion_request_error(
            f"The model provider at {where} did not finish within {deadline} seconds."
        ) from None
    except httpx.TimeoutException:
        _watch_check(watch, where)
        raise completion_request_error(
            f"The model provider at {where} did not answer in time."
        ) from None
    except httpx.HTTPError as exc:
        _watch_check(watch, where)
        logger.info("provider call to %s failed: %s", where, type(exc).__name__)
        raise completion_request_error(
            f"Could not reach the model provider at {where}: {_plain(exc)}"
        ) from None
    except ProviderError:
        _watch_check(watch, where)
        raise


def _watch_check(watch: CallWatch, where: str) -> None:
    """A failure caused by the watch shutting the socket is a stop or the deadline."""
    try:
        watch.check()
    except CallDeadlineExceeded:
        raise completion_request_error(
            f"The model provider at {where} did not finish within {watch.deadline:g} seconds."
        ) from None


def _chunks(response: httpx.Response, watch: CallWatch) -> Iterator[ModelChunk]:
    usage: Usage | None = None
    finish_reason: str | None = None
    calls = _ToolCallAssembler()
    done = False
    for data in _sse_data(response):
        watch.check()  # bytes already buffered must not outlive a stop or the deadline
        if data == "[DONE]":
            done = True
            break
        try:
            payload = json.loads(data)
        except ValueError:
            raise completion_request_error("The model provider sent a malformed chunk.") from None
        if not isinstance(payload, dict):
            raise completion_request_error("The model provider sent a malformed chunk.")
        if payload.get("error"):
            raise _body_error(payload["error"])
        if isinstance(payload.get("usage"), dict):
            usage = _usage(payload["usage"])
        for choice in payload.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                continue
            text = delta.get("content")
            if isinstance(text, str) and text:
                yield ModelChunk(text=text)
            calls.add(delta.get("tool_calls"))
            if choice.get("finish_reason"):
                finish_reason = str(choice["finish_reason"])
    watch.check()  # a socket shut down by the watch reads as the end of the stream
    if not done and finish_reason is None:
        raise completion_request_error("The model provider ended the stream before finishing.")
    yield ModelChunk(usage=usage, finish_reason=finish_reason, tool_calls=calls.complete())


class _ToolCallAssembler:
    """Joins streamed ``delta.tool_calls`` fragments: the first fragment of a call carries its
    ``index``, ``id`` and ``function.name``; later ones (same ``index``) append to
    ``function.arguments``."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, fragments: Any) -> None:
        if not isinstance(fragments, list):
            return
        for position, fragment in enumerate(fragments):
            if not isinstance(fragment, dict):
                raise completion_request_error("The model provider sent a malformed tool call.")
            index = fragment.get("index", position)
            if not isinstance(index, int) or isinstance(index, bool):
                raise completion_request_error("The model provider sent a malformed tool call.")
            call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            function = fragment.get("function") or {}
            if not isinstance(function, dict):
                raise completion_request_error("The model provider sent a malformed tool call.")
            if isinstance(fragment.get("id"), str) and fragment["id"]:
                call["id"] = fragment["id"]
            if isinstance(function.get("name"), str) and function["name"]:
                call["name"] = function["name"]
            if isinstance(function.get("arguments"), str):
                call["arguments"] += function["arguments"]

    def complete(self) -> tuple[ToolCall, ...]:
        done = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if not call["name"]:
                raise completion_request_error(
                    "The model provider sent a tool call without a name."
                )
            done.append(
                ToolCall(
                    id=call["id"] or f"call_{index}", name=call["name"], arguments=call["arguments"]
                )
            )
        return tuple(done)


def _sse_data(response: httpx.Response) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines)."""
    lines: list[str] = []
    for line in response.iter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)


def _usage(raw: dict[str, Any]) -> Usage:
    def number(key: str) -> int:
        value = raw.get(key)
        return int(value) if isinstance(value, (int, float)) else 0

    prompt, completion = number("prompt_tokens"), number("completion_tokens")
    return Usage(prompt, completion, number("total_tokens") or prompt + completion)


def _status_error(response: httpx.Response, provider: str) -> ProviderError:
    detail = _error_detail(response)
    status = response.status_code
    if status == 429:
        return ProviderError(
            "rate_limit_error",
            f"The model provider is rate limiting requests: {detail}",
            status=429,
        )
    if status in (401, 403):
        return ProviderError(
            "provider_not_initialize",
            f"The model provider {provider!r} rejected its credentials ({status}): {detail}. "
            "Check its API key in the admin (or OPENAI_API_KEY).",
            status=400,
        )
    return completion_request_error(f"The model provider answered {status}: {detail}")


def _error_detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return _plain(response.text) or response.reason_phrase
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _plain(str(error["message"]))
        if isinstance(error, str):
            return _plain(error)
        if payload.get("message"):
            return _plain(str(payload["message"]))
    return _plain(response.text) or response.reason_phrase


def _body_error(error: Any) -> ProviderError:
    message = error.get("message") if isinstance(error, dict) else error
    kind = (
        " ".join(str(error.get(k, "")) for k in ("type", "code")) if isinstance(error, dict) else ""
    )
    text = _plain(str(message or "error"))
    if "rate_limit" in kind:
        return ProviderError(
            "rate_limit_error", f"The model provider is rate limiting requests: {text}", status=429
        )
    return completion_request_error(f"The model provider reported an error: {text}")


def _plain(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:MAX_ERROR_MESSAGE_CHARS]
