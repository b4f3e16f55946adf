"""Driving a live SSE stream from a test: open it, read frames as they come, leave mid-way.

Runs inside ``async_to_sync`` from a synchronous test; ORM calls made through ``sync_to_async``
come back to the test's thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from channels.testing import HttpCommunicator

from config.api.sse import parse_frames


class LiveStream:
    def __init__(self, method: str, path: str, *, token: str, body: Any = None, headers=None):
        from config.asgi import application

        raw = json.dumps(body).encode() if body is not None else b""
        hdrs = [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ]
        for name, value in (headers or {}).items():
            hdrs.append((name.lower().encode(), str(value).encode()))
        self.communicator = HttpCommunicator(application, method, path, body=raw, headers=hdrs)
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.raw = b""
        self.ended = False

    async def start(self, timeout: float = 10) -> LiveStream:
        await self.communicator.send_input({"type": "http.request", "body": self.communicator.body})
        start = await self.communicator.receive_output(timeout)
        assert start["type"] == "http.response.start", start
        self.status = start["status"]
        self.headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
        return self

    @property
    def frames(self) -> list[dict[str, Any]]:
        return parse_frames(self.raw)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [f["data"] for f in self.frames if "data" in f]

    async def read_until(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15
    ) -> list[dict[str, Any]]:
        """Read body chunks until ``predicate(events)`` holds or the body ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ended and not predicate(self.events):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out; events so far: {[e['event'] for e in self.events]}"
                )
            message = await self.communicator.receive_output(remaining)
            assert message["type"] == "http.response.body", message
            self.raw += message.get("body", b"")
            if not message.get("more_body", False):
                self.ended = True
        return self.events

    async def read_to_end(self, timeout: float = 20) -> list[dict[str, Any]]:
        return await self.read_until(lambda events: False, timeout)

    async def leave(self) -> None:
        """The client goes away mid-stream."""
        await self.communicator.send_input({"type": "http.disconnect"})
        try:
            await self.communicator.wait(timeout=3)
        except Exception:
            pass
