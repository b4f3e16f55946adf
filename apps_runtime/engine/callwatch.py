"""A total deadline and a stop for one blocking network call (docs/decisions/16-budgets.md).

Per-operation timeouts (connect, read, write) bound each wait, not the call: a server that drips
one byte just inside the read timeout holds a call forever. A :class:`CallWatch` bounds the
whole call. Every socket the call opens is registered with it; a watcher thread asks
``should_stop`` every ``OUTBOUND_STOP_POLL_MS`` and watches the clock, and when either says so it
shuts the sockets down (closing alone would not wake a read blocked in another thread). The
blocked read then fails at once and the caller turns the failure into ``StopRequested`` or
``CallDeadlineExceeded`` with :meth:`CallWatch.check`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from django.conf import settings
from django.db import connections

from apps_runtime.engine.host import StopRequested

logger = logging.getLogger("difyapi.outbound")

STOP = "stop"
DEADLINE = "deadline"


class CallDeadlineExceeded(Exception):
    """The call's total deadline passed."""


class CallWatch:
    """Use as a context manager around the call; register sockets with :meth:`add`."""

    def __init__(
        self,
        deadline: float | None,
        should_stop: Callable[[], bool] | None = None,
        *,
        poll_ms: int | None = None,
    ) -> None:
        self.deadline = deadline
        self._poll_ms = poll_ms
        self._expires = None if deadline is None else time.monotonic() + deadline
        self._should_stop = should_stop
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: str | None = None

    def __enter__(self) -> CallWatch:
        self._poll()
        self.check()
        if self._should_stop is not None or self._expires is not None:
            self._thread = threading.Thread(target=self._run, name="call-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def remaining(self) -> float | None:
        """Seconds left (never below a tiny positive number), ``None`` without a deadline."""
        if self._expires is None:
            return None
        return max(0.001, self._expires - time.monotonic())

    def cap(self, timeout: float | None) -> float | None:
        """``timeout`` shortened to what is left of the deadline."""
        left = self.remaining()
        if left is None:
            return timeout
        return left if timeout is None else min(timeout, left)

    def add(self, sock: socket.socket) -> None:
        """Watch ``sock``: it is shut down when the call is stopped or runs out of time."""
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired is not None
        if fired:
            _shutdown(sock)

    def check(self) -> None:
        """Raise ``StopRequested`` or ``CallDeadlineExceeded`` if the watch fired (or the
        deadline has passed); otherwise nothing."""
        if self.fired is None and self._expires is not None and time.monotonic() >= self._expires:
            self._fire(DEADLINE)
        if self.fired == STOP:
            raise StopRequested()
        if self.fired == DEADLINE:
            raise CallDeadlineExceeded(f"did not complete within {self.deadline:g} seconds")

    def _poll(self) -> None:
        if self.fired is not None:
            return
        if self._should_stop is not None and self._should_stop():
            self._fire(STOP)
        elif self._expires is not None and time.monotonic() >= self._expires:
            self._fire(DEADLINE)

    def _fire(self, reason: str) -> None:
        with self._lock:
            if self.fired is None:
                self.fired = reason
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def _run(self) -> None:
        interval = (self._poll_ms or settings.OUTBOUND_STOP_POLL_MS) / 1000
        try:
            while True:
                wait = interval if self._should_stop is not None else None
                left = self.remaining()
                if left is not None:
                    wait = left if wait is None else min(wait, left)
                if self._done.wait(wait):
                    return
                try:
                    self._poll()
                finally:
                    # should_stop may read the database; hold no connection between polls.
                    connections.close_all()
                if self.fired is not None:
                    return
        except Exception:
            logger.exception("call watcher failed")


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
