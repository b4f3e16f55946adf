"""Drive the whole ASGI application with one POST, the way a server would, for body-limit tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asgiref.sync import async_to_sync


@dataclass
class AsgiResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    reads: int  # how many body chunks the application asked for


def asgi_post(
    path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes] | None
) -> AsgiResponse:
    """POST ``chunks`` to ``path``; with ``chunks=None`` any attempt to read the body fails the
    test (the application must answer from the headers alone)."""
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks or [])
    ]
    reads: list[int] = []
    sent: list[dict] = []

    async def receive():
        if chunks is None:
            raise AssertionError("the body was read")
        if incoming:
            reads.append(1)
            return incoming.pop(0)
        await asyncio.Future()  # the client stays connected until the app is done

    async def send(message):
        sent.append(message)

    async_to_sync(application)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return AsgiResponse(
        status=start["status"],
        headers={k.decode(): v.decode() for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
        reads=len(reads),
    )
