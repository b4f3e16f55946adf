"""ASGI guard: a request body over ``MAX_REQUEST_BODY_BYTES`` is refused with 413 before the app
sees it — also when it arrives chunked, without a ``Content-Length`` (Django's ASGI handler would
otherwise spool any size to disk).

Bodies within the limit are buffered (at most the limit, 1 MiB by default) and replayed to the app;
a complete chunked body gets the ``Content-Length`` that Django and DRF need to read it at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from config.api.errors import envelope
from config.api.middleware import is_api_path, request_body_limit
from config.api.renderers import render_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def body_limit(scope: Scope) -> int:
    return request_body_limit(str(scope.get("method", "")), str(scope.get("path", "")))


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodySizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            # Refused on the header alone: not one byte of the body is read.
            await _refuse(scope, send)
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: let the app see it
            size += len(message.get("body", b""))
            if size > limit:
                await _refuse(scope, send)
                return
            if not message.get("more_body", False):
                scope = _with_content_length(scope, size)
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


def _with_content_length(scope: Scope, size: int) -> Scope:
    """A chunked body is complete now: give it the ``Content-Length`` Django and DRF read."""
    headers = list(scope.get("headers", []))
    if any(name.lower() == b"content-length" for name, _ in headers):
        return scope
    headers.append((b"content-length", str(size).encode()))
    return {**scope, "headers": headers}


async def _refuse(scope: Scope, send: Send) -> None:
    if is_api_path(scope.get("path", "")):
        body = render_json(envelope(413, "request body too large"))
        content_type = b"application/json"
    else:
        body, content_type = b"Request body too large.\n", b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
