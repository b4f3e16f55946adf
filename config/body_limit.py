"""Request bodies over their limit are refused with 413 before they are read.

The limit is ``MAX_REQUEST_BODY_BYTES`` (1 MiB), except the admin's DSL import, which accepts what
its form promises (``ADMIN_DSL_UPLOAD_MAX_BYTES``: ``MAX_DSL_BYTES`` plus the multipart framing).
A declared ``Content-Length`` over the limit is refused without reading a byte; a chunked body is
refused as soon as it passes the limit; the connection is closed either way. The API answers the
JSON envelope, the admin its own page, anything else plain text.

Three layers enforce it. :class:`BodySizeLimit` is ASGI middleware for any ASGI server that
streams the body to the application (uvicorn, hypercorn). Daphne (``make run`` and production)
reads the whole body before it calls the application, so ``config.daphne_body_limit`` applies the
same rule inside daphne's HTTP protocol. Servers that can do neither need the proxy's body limit
(README).

On WSGI (gunicorn, ``serve-prod``'s JSON side) Django reads ``CONTENT_LENGTH`` bytes, so a chunked
body (no length) would be read as empty and acted on as if the client had sent nothing.
:class:`WSGIChunkedBody` reads it first, up to the route's limit (413 past it), and hands Django
the body with its length; a server that cannot say where a chunked body ends
(``wsgi.input_terminated`` unset) gets 411 ``Length Required`` instead.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from config.api.errors import envelope
from config.api.middleware import (
    TOO_LARGE,
    human_size,
    is_api_path,
    request_body_limit,
    too_large_hint,
)
from config.api.renderers import render_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@lru_cache(maxsize=1)
def _admin_import_path() -> str:
    try:
        return reverse("admin:apps_runtime_app_import_dsl")
    except NoReverseMatch:  # the admin is not mounted
        return "\0"


def body_limit_for(path: str, method: str = "POST") -> int:
    """The admin DSL upload gets the DSL limit; other routes their own (request_body_limit)."""
    if path == _admin_import_path():
        return int(settings.ADMIN_DSL_UPLOAD_MAX_BYTES)
    return request_body_limit(method, path)


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def refusal(
    path: str, status: int = 413, method: str = "POST"
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of the 413 (or 411) for ``path`` (the connection is closed after it)."""
    if status == 411:
        message = "a chunked request body is not accepted here: send Content-Length"
        if is_api_path(path):
            body, content_type = (
                render_json(envelope(411, message, code="length_required")),
                b"application/json",
            )
        else:
            body, content_type = f"{message}\n".encode(), b"text/plain; charset=utf-8"
    elif is_api_path(path):
        body = render_json(envelope(413, TOO_LARGE, hint=too_large_hint(method, path)))
        content_type = b"application/json"
    elif path.startswith("/admin/"):
        body = _admin_page(path).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        limit = body_limit_for(path, method)
        body = f"Request body too large: the limit is {human_size(limit)}.\n".encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"x-frame-options", b"DENY"),
    ]
    return headers, body


def _admin_page(path: str) -> str:
    from django.contrib import admin

    limit = body_limit_for(path)
    return render_to_string(
        "admin/request_too_large.html",
        {
            "title": "Request too large",
            "site_header": admin.site.site_header,
            "site_title": admin.site.site_title,
            "has_permission": False,
            "limit": limit,
            "limit_human": human_size(limit),
            "dsl_limit_human": human_size(settings.MAX_DSL_BYTES),
        },
    )


class BodySizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = body_limit_for(path, str(scope.get("method", "")))
        declared = declared_length(list(scope.get("headers", [])))
        if declared is not None and declared > limit:
            await _refuse(
                path, send, str(scope.get("method", ""))
            )  # nothing of the body has been read
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
                await _refuse(path, send, str(scope.get("method", "")))
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


async def _refuse(path: str, send: Send, method: str = "POST") -> None:
    headers, body = refusal(path, 413, method)
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- WSGI ------------------------------------------------------------------------------------------

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_READ_BLOCK = 64 * 1024


def _is_chunked(environ: dict[str, Any]) -> bool:
    encoding = str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    return "chunked" in encoding and not environ.get("CONTENT_LENGTH")


class WSGIChunkedBody:
    """Give Django a chunked body with its length, bounded like every body; or refuse it."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not _is_chunked(environ):
            return self.app(environ, start_response)
        path = str(environ.get("PATH_INFO", ""))
        if not environ.get("wsgi.input_terminated"):
            return _wsgi_refuse(path, 411, start_response)
        limit = body_limit_for(path, str(environ.get("REQUEST_METHOD", "")))
        stream = environ["wsgi.input"]
        body = bytearray()
        while True:
            block = stream.read(min(_READ_BLOCK, limit + 1 - len(body)))
            if not block:
                break
            body += block
            if len(body) > limit:
                return _wsgi_refuse(path, 413, start_response, environ)
        environ["wsgi.input"] = io.BytesIO(bytes(body))
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


_REASONS = {411: "411 Length Required", 413: "413 Request Entity Too Large"}


def _wsgi_refuse(
    path: str,
    status: int,
    start_response: Callable[..., Any],
    environ: dict[str, Any] | None = None,
) -> list[bytes]:
    headers, body = refusal(path, status, str((environ or {}).get("REQUEST_METHOD") or "POST"))
    # No Connection header: WSGI leaves hop-by-hop headers to the server.
    kept = [(k.decode(), v.decode()) for k, v in headers if k != b"connection"]
    start_response(_REASONS[status], kept)
    return [body]
