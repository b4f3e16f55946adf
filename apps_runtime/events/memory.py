"""The in-process event log (the embedded default): one process's runs and streams share it.

Appends come from worker threads, readers are coroutines on the server's event loop. A reader
with nothing to read parks an asyncio future; an append wakes it with
``loop.call_soon_threadsafe`` — nothing blocks on the loop except a short lock around list
operations. Events are stored as JSON (as Redis stores them), so both backends accept and
return the same values.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps_runtime.events.base import Entry, entry_id_key

IdKey = tuple[int, int]


@dataclass
class _Stream:
    keys: list[IdKey] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    last: IdKey = (0, 0)
    closed_at: datetime | None = None
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=list
    )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class MemoryEventLog:
    """Thread-safe in-process implementation of :class:`~apps_runtime.events.base.EventLog`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}

    # --- writing ------------------------------------------------------------------------------
    def append(self, stream: str, event: dict[str, Any]) -> str:
        payload = json.dumps(event)
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            state = self._live(stream) or self._streams.setdefault(stream, _Stream())
            last_ms, last_seq = state.last
            key = (now_ms, 0) if now_ms > last_ms else (last_ms, last_seq + 1)
            entry_id = f"{key[0]}-{key[1]}"
            state.keys.append(key)
            state.ids.append(entry_id)
            state.payloads.append(payload)
            state.last = key
            state.closed_at = None  # an append means the run is alive again (as in Redis)
            excess = len(state.keys) - settings.EVENT_LOG_MAX_ENTRIES
            if excess > 0:
                del state.keys[:excess], state.ids[:excess], state.payloads[:excess]
            waiters, state.waiters = state.waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # that reader's loop is closed: nobody to wake
                pass
        return entry_id

    def close(self, stream: str) -> None:
        with self._lock:
            state = self._streams.get(stream)
            if state is not None and state.closed_at is None:
                state.closed_at = timezone.now()

    def check(self) -> None:
        """The in-process log is always there."""

    # --- reading ------------------------------------------------------------------------------
    def entries(self, stream: str, after: str | None = None) -> list[Entry]:
        with self._lock:
            return self._entries_locked(stream, after)

    def exists(self, stream: str) -> bool:
        with self._lock:
            state = self._live(stream)
            return state is not None and bool(state.keys)

    async def wait(self, stream: str, after: str | None, timeout: float) -> list[Entry]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            found = self._entries_locked(stream, after)
            if found or timeout <= 0:
                return found
            state = self._streams.get(stream)
            if state is None:
                state = self._streams[stream] = _Stream()
            state.waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                state.waiters = [(lp, fut) for lp, fut in state.waiters if fut is not future]
        return self.entries(stream, after)

    # --- retention ----------------------------------------------------------------------------
    def purge_expired(self) -> int:
        """Drop streams whose retention ran out; returns how many were dropped."""
        with self._lock:
            gone = [
                name
                for name, state in self._streams.items()
                if self._expired(state) or (not state.keys and not state.waiters)
            ]
            for name in gone:
                del self._streams[name]
        return len(gone)

    def _expired(self, state: _Stream) -> bool:
        if state.closed_at is None:
            return False
        retention = timedelta(seconds=settings.EVENT_LOG_RETENTION_SECONDS)
        return timezone.now() >= state.closed_at + retention

    def _live(self, stream: str) -> _Stream | None:
        """The stream, emptied first if its retention ran out (ids keep increasing and parked
        readers stay parked, as a re-created Redis key would behave for them)."""
        state = self._streams.get(stream)
        if state is not None and self._expired(state):
            state.keys, state.ids, state.payloads = [], [], []
            state.closed_at = None
        return state

    def _entries_locked(self, stream: str, after: str | None) -> list[Entry]:
        state = self._live(stream)
        if state is None or not state.keys:
            return []
        start = 0 if after is None else bisect.bisect_right(state.keys, entry_id_key(after))
        return [(state.ids[i], json.loads(state.payloads[i])) for i in range(start, len(state.ids))]
