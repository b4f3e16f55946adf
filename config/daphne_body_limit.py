"""The body limit inside daphne, which reads a whole request body before the application runs.

Twisted's request spools any body to a temporary file as it arrives and daphne calls the ASGI
application only after the last byte, so :class:`config.body_limit.BodySizeLimit` alone would
answer 413 only once a 50 MB upload had been received and written to disk. Here the request
refuses as soon as its declared ``Content-Length`` is known (before any of the body is read) or,
chunked, as soon as the received bytes pass the limit: it writes the same 413 as the middleware
and closes the connection. Daphne has no setting for the request class its protocol builds, so
:func:`install` swaps it in daphne's module (imported by ``config.asgi``, i.e. in every daphne
process serving this project).
"""

from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import unquote, urlsplit

from daphne import http_protocol

from config.body_limit import body_limit_for, refusal

logger = logging.getLogger("difyapi.body_limit")

_REASON = b"HTTP/1.1 413 Request Entity Too Large\r\n"


class LimitedWebRequest(http_protocol.WebRequest):  # type: ignore[misc]
    _body_limit: int | None = None
    _body_received = 0
    _body_refused = False

    def _target_path(self) -> str:
        raw = getattr(self.channel, "_path", b"") or b""
        return unquote(urlsplit(raw.decode("latin-1")).path)

    def gotLength(self, length: int | None) -> None:
        method = (getattr(self.channel, "_command", b"") or b"").decode("latin-1")
        self._body_limit = body_limit_for(self._target_path(), method)
        if length is not None and length > self._body_limit:
            self.content = io.BytesIO()
            self._refuse_oversize()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._body_refused:
            return
        self._body_received += len(data)
        if self._body_limit is not None and self._body_received > self._body_limit:
            self._refuse_oversize()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._body_refused:
            return  # answered already; the application never sees this request
        super().requestReceived(command, path, version)

    def _refuse_oversize(self) -> None:
        self._body_refused = True
        path = self._target_path()
        headers, body = refusal(path)
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        transport: Any = self.channel.transport
        transport.write(_REASON + head + b"\r\n" + body)
        transport.loseConnection()
        logger.info("refused an oversize request body for %s (limit %s)", path, self._body_limit)


def install() -> None:
    """Make daphne's HTTP protocol build :class:`LimitedWebRequest` for every request."""
    http_protocol.WebRequest = LimitedWebRequest  # type: ignore[misc]
