"""A bound on the bytes daphne holds for a stream's client (``SSE_MAX_BUFFERED_BYTES``).

Daphne writes every body part the application sends into Twisted's transport at once: ASGI has no
back-pressure, so for a client that never reads, each frame of a long replay or a live run stays in
the server's memory. Here a response that is an event stream is cut off as soon as the bytes
waiting in its transport pass the bound: the connection is aborted, daphne tells the application
(``http.disconnect``), and the stream's consumer ends and gives back its slot. A client that
reads keeps the buffer near empty (the SSE pump yields to the event loop between frames so the
transport can flush). Non-stream responses are left alone. Installed by ``config.asgi`` after
the body limit, extending whatever request class daphne builds.
"""

from __future__ import annotations

import logging
from typing import Any

from daphne import http_protocol
from django.conf import settings

logger = logging.getLogger("difyapi.sse")


def buffered_bytes(transport: Any) -> int:
    """Bytes a Twisted transport holds that the peer has not taken yet (0 if unknown)."""
    data = getattr(transport, "dataBuffer", b"") or b""
    offset = int(getattr(transport, "offset", 0) or 0)
    pending = int(getattr(transport, "_tempDataLen", 0) or 0)
    return max(0, len(data) - offset) + pending


def install() -> None:
    """Make daphne's HTTP protocol build requests that drop a stream's non-reading client."""
    base = http_protocol.WebRequest
    if getattr(base, "send_limited", False):
        return

    class SendLimitedWebRequest(base):  # type: ignore[misc, valid-type]
        send_limited = True
        _event_stream = False

        def handle_reply(self, message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                for name, value in message.get("headers", ()):
                    if bytes(name).lower() == b"content-type":
                        self._event_stream = bytes(value).startswith(b"text/event-stream")
            super().handle_reply(message)
            if not (self._event_stream and message.get("more_body")):
                return
            channel = self.channel
            if self.finished or channel is None or channel.transport is None:
                return
            pending = buffered_bytes(channel.transport)
            if pending > settings.SSE_MAX_BUFFERED_BYTES:
                logger.info(
                    "dropping a stream client that does not read (%s bytes waiting, limit %s)",
                    pending,
                    settings.SSE_MAX_BUFFERED_BYTES,
                )
                channel.transport.abortConnection()

    http_protocol.WebRequest = SendLimitedWebRequest
