"""The event-log interface; backends: in-process (embedded default) and Redis Streams.

A stream holds one run's events (named by the run's ``task_id``). Entry ids increase strictly
within a stream and are the SSE ``id:``; they have the Redis Stream form ``<ms>-<seq>`` in every
backend so ``Last-Event-ID`` means the same thing whichever backend wrote it.
"""

from __future__ import annotations

from typing import Any, Protocol

Entry = tuple[str, dict[str, Any]]


class EventLogUnavailable(Exception):
    """The log's store cannot be reached (Redis down): every backend method may raise it."""


class EventLog(Protocol):
    def append(self, stream: str, event: dict[str, Any]) -> str:
        """Append ``event``; return its id. Safe from any thread; never blocks on a reader."""

    def entries(self, stream: str, after: str | None = None) -> list[Entry]:
        """Every entry after ``after`` (all when ``None``), in order."""

    async def wait(self, stream: str, after: str | None, timeout: float) -> list[Entry]:
        """The entries after ``after``; if there are none yet, wait up to ``timeout`` seconds
        for some (then ``[]``). Never blocks the event loop or a shared thread."""

    def close(self, stream: str) -> None:
        """The run ended: keep the stream ``EVENT_LOG_RETENTION_SECONDS`` more, then drop it."""

    def exists(self, stream: str) -> bool:
        """Whether the stream still holds entries (False once retention dropped it)."""

    def check(self) -> None:
        """Raise :class:`EventLogUnavailable` unless the log can be written now."""


def entry_id_key(entry_id: str) -> tuple[int, int]:
    """Sort key of an entry id (``<ms>-<seq>``); a malformed id sorts before every entry."""
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return -1, -1
