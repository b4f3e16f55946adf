"""Server-sent events over Channels (contract §6.1, decisions §6, security 19-22).

Framing: ``id: <log entry id>`` + ``data: <compact JSON>`` + blank line for every event, the literal
``event: ping`` frame for keep-alive. ``SSEConsumer`` is the base of the run and events endpoints:
everything checked before the stream starts is answered as the JSON error envelope (consumers
bypass Django's middleware and DRF's exception handler, so this is the one place that does it).

Streaming follows platform-notes.md: ``handle()`` returning does not end the consumer; the stream
runs in its own task, which a client disconnect cancels within a second; the response ends with an
empty final body. The consumer ends when the stream ends or the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer

from config.api.errors import ApiError, report, to_api_error

logger = logging.getLogger("difyapi.sse")

PING_FRAME = b"event: ping\n\n"

SSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)


def data_frame(entry_id: str, event: dict[str, Any]) -> bytes:
    """One event frame; ``entry_id`` is the event-log id a client sends back as Last-Event-ID."""
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"id: {entry_id}\ndata: {payload}\n\n".encode()


def parse_frames(raw: bytes) -> list[dict[str, Any]]:
    """The frames of an SSE body as ``{"id", "event", "data"}`` dicts (pings have ``event``
    ``ping`` and no data). For tests and tools; the client's parser is eventsource-parser."""
    frames: list[dict[str, Any]] = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        frame: dict[str, Any] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if name == "data":
                frame["data"] = json.loads(value)
                frame.setdefault("event", frame["data"].get("event"))
            elif name in ("id", "event"):
                frame[name] = value
        frames.append(frame)
    return frames


def header(scope: dict[str, Any], name: str) -> str | None:
    """A request header from the ASGI scope (latin-1, as HTTP/1.1 defines)."""
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def error_response_parts(error: ApiError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(error.payload(), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
    ]
    headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in error.headers.items()]
    return error.status, headers, body


# Clean-up tasks outlive the consumer that started them (asyncio holds tasks weakly).
_background: set[asyncio.Future[Any]] = set()


def _keep(task: asyncio.Future[Any]) -> asyncio.Future[Any]:
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


class SSEConsumer(AsyncHttpConsumer):
    """Base of the SSE endpoints: ``prepare`` checks and returns the stream, ``close_stream``
    releases what ``prepare`` took (always called once the stream was prepared)."""

    allowed_methods: tuple[str, ...] = ("GET",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stream_task: asyncio.Task[None] | None = None
        self._renew_task: asyncio.Task[None] | None = None
        self._release_task: asyncio.Future[None] | None = None
        self._finished = asyncio.Event()
        self._prepared = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        consumer = asyncio.ensure_future(super().__call__(scope, receive, send))
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait({consumer, finished}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (consumer, finished):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await self._cancel_stream()
        if consumer.done() and not consumer.cancelled() and consumer.exception() is not None:
            raise consumer.exception()  # type: ignore[misc]

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes "old" database connections before every handler; these consumers hold
        # none between messages (their synchronous steps release their own), so skip that hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def prepare(self, body: bytes) -> AsyncIterator[bytes]:
        """Run every pre-stream check (raise ``ApiError``) and return the frames to send."""
        raise NotImplementedError

    async def close_stream(self) -> None:
        """Release per-stream resources (stream slots …); must not raise."""

    def renew_seconds(self) -> float | None:
        """How often :meth:`renew_stream` runs while the stream is open (``None``: never)."""
        return None

    async def renew_stream(self) -> None:
        """Extend the leases of per-stream resources while the stream is open."""

    async def http_request(self, message: dict[str, Any]) -> None:
        if "body" in message:
            self.body.append(message["body"])
        if message.get("more_body"):
            return
        try:
            method = str(self.scope.get("method", "GET")).upper()
            if method not in self.allowed_methods:
                raise ApiError(
                    405, "method not allowed", headers={"Allow": ", ".join(self.allowed_methods)}
                )
            frames = await self._prepare_shielded(b"".join(self.body))
        except Exception as exc:
            error = to_api_error(exc)
            report(error, exc, "SSE endpoint failed before the stream")
            status, headers, body = error_response_parts(error)
            await self.send_response(status, body, headers=headers)
            self._finished.set()
            raise StopConsumer() from None
        self._prepared = True
        every = self.renew_seconds()
        if every:
            self._renew_task = asyncio.ensure_future(self._renew(every))
        await self.send_headers(status=200, headers=list(SSE_HEADERS))
        # Some servers hold the headers until the first body part: send them now.
        await self.send_body(b"", more_body=True)
        self._stream_task = asyncio.ensure_future(self._pump(frames))

    async def _prepare_shielded(self, body: bytes) -> AsyncIterator[bytes]:
        """``prepare``, finished even when this request is cancelled meanwhile (the client left
        before the first frame): what it took is then released as soon as it returns."""
        task = asyncio.ensure_future(self.prepare(body))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(self._release_abandoned)
            raise

    def _release_abandoned(self, task: asyncio.Future[AsyncIterator[bytes]]) -> None:
        if task.cancelled() or task.exception() is not None:
            return  # prepare gave back what it took before raising
        self._prepared = True
        _keep(asyncio.ensure_future(self._release()))

    async def _renew(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.renew_stream()
            except Exception:
                logger.exception("SSE stream lease renewal failed")

    async def _pump(self, frames: AsyncIterator[bytes]) -> None:
        try:
            async for frame in frames:
                await self.send_body(frame, more_body=True)
                # Let the server flush to the client before the next frame: its buffer then
                # only grows for a client that does not read (config/daphne_send_limit.py).
                await asyncio.sleep(0)
            await self.send_body(b"")
        except asyncio.CancelledError:
            raise
        except Exception:
            # After the headers went out there is no status to change: end the body so the
            # client is not left waiting (it sees a stream without its terminal event).
            logger.exception("SSE stream failed")
            with contextlib.suppress(Exception):
                await self.send_body(b"")
        finally:
            with contextlib.suppress(Exception):
                await frames.aclose()  # type: ignore[attr-defined]
            await self._release()
            self._finished.set()

    async def _cancel_stream(self) -> None:
        task = self._stream_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._release()

    async def _release(self) -> None:
        """Run ``close_stream`` once, to its end even if the caller is cancelled meanwhile (a
        client leaving right after the final frame cancels the stream task mid-release)."""
        if not self._prepared:
            return
        if self._renew_task is not None:
            self._renew_task.cancel()
        if self._release_task is None:
            self._release_task = _keep(asyncio.ensure_future(self._close_quietly()))
        await asyncio.shield(self._release_task)

    async def _close_quietly(self) -> None:
        try:
            await self.close_stream()
        except Exception:
            logger.exception("SSE stream clean-up failed")

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        await self._cancel_stream()
        self._finished.set()
        raise StopConsumer()
