"""The ceiling: minimal raw ASGI and WSGI applications that answer the bytes of a real response.

Served by the same server software as the project, they show what that server can do on this
machine with no framework at all; every endpoint's figure is shown as a share of it. The body and
content type come from the files named by ``CEILING_BODY_FILE`` and ``CEILING_CONTENT_TYPE``
(written by ``benchmarks.run`` from a real ``GET /openapi/v1/account``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_BODY = Path(os.environ.get("CEILING_BODY_FILE", "/dev/null")).read_bytes() or b'{"ok":true}'
_TYPE = os.environ.get("CEILING_CONTENT_TYPE", "application/json")
_ASGI_HEADERS = [
    (b"content-type", _TYPE.encode()),
    (b"content-length", str(len(_BODY)).encode()),
]
_WSGI_HEADERS = [("Content-Type", _TYPE), ("Content-Length", str(len(_BODY)))]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": _ASGI_HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", _WSGI_HEADERS)
    return [_BODY]


_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_SSE_RUN = (
    b'id: 1-0\ndata: {"event":"workflow_started"}\n\n'
    b'id: 2-0\ndata: {"event":"workflow_finished","data":{"status":"succeeded"}}\n\n'
)


async def sse_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The runs' ceiling (``benchmarks.runs``): a ``…/events`` GET is an idle stream held until the
    client leaves; a POST answers a two-event stream at once; anything else is ``asgi_app``."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
        await asgi_app(scope, receive, send)
        return
    if scope["method"] == "GET" and scope["path"].endswith("/events"):
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await send({"type": "http.response.body", "body": _SSE_RUN})
        return
    await asgi_app(scope, receive, send)
