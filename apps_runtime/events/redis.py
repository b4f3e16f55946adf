"""The Redis Streams event log (``REDIS_URL`` set): shared by every process.

One stream key per run, ``<EVENT_LOG_KEY_PREFIX>:<stream>``, each entry one field ``e`` holding
the event as JSON. Ids are Redis' own ``<ms>-<seq>`` ids. Appends and replays use the sync
client (worker threads, short calls); ``wait`` uses ``redis.asyncio`` with ``XREAD BLOCK`` so a
waiting reader never holds a thread, and its socket timeout is longer than any block (redis-py's
default 5 s would turn a long block into a ``TimeoutError``; platform-notes.md).
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
from django.conf import settings

from apps_runtime.events.base import Entry, EventLogUnavailable, entry_id_key

FIELD = "e"
# Sync calls are short (XADD, XRANGE, EXPIRE): fail fast when Redis is unreachable.
SYNC_SOCKET_TIMEOUT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 2
# Head-room of the async socket timeout over the longest XREAD BLOCK.
BLOCK_HEADROOM_SECONDS = 5


# Redis could not be reached or answered in time (redis-py raises these for a dead server).
_OUTAGE = (redis.ConnectionError, redis.TimeoutError, OSError)
F = TypeVar("F", bound=Callable[..., Any])


def _outage_is_unavailable(method: F) -> F:
    """Raise :class:`EventLogUnavailable` for an unreachable Redis (sync and async methods)."""
    if asyncio.iscoroutinefunction(method):

        @functools.wraps(method)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except _OUTAGE as exc:
                raise EventLogUnavailable(str(exc)) from exc

        return wrapped_async  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except _OUTAGE as exc:
            raise EventLogUnavailable(str(exc)) from exc

    return wrapped  # type: ignore[return-value]


def _after_id(after: str | None) -> str:
    """``after`` as a Redis id; ``None`` or a malformed id means from the start (as in memory)."""
    if after is None:
        return "0-0"
    ms, seq = entry_id_key(after)
    return "0-0" if ms < 0 else f"{ms}-{seq}"


def _decode(raw: Any) -> list[Entry]:
    entries: list[Entry] = []
    for entry_id, fields in raw:
        try:
            event = json.loads(fields[FIELD])
        except (KeyError, TypeError, ValueError):
            continue  # not written by this log: skip rather than break every reader
        entries.append((str(entry_id), event))
    return entries


class RedisEventLog:
    """Redis Streams implementation of :class:`~apps_runtime.events.base.EventLog`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sync = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SYNC_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        # redis.asyncio clients belong to the loop that created their connections.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._async_lock = threading.Lock()

    @staticmethod
    def key(stream: str) -> str:
        return f"{settings.EVENT_LOG_KEY_PREFIX}:{stream}"

    # --- writing ------------------------------------------------------------------------------
    @_outage_is_unavailable
    def append(self, stream: str, event: dict[str, Any]) -> str:
        key = self.key(stream)
        pipe = self._sync.pipeline(transaction=False)
        pipe.xadd(
            key,
            {FIELD: json.dumps(event)},
            maxlen=settings.EVENT_LOG_MAX_ENTRIES,
            approximate=True,
        )
        pipe.persist(key)  # an append means the run is alive again: no retention countdown
        entry_id, _ = pipe.execute()
        return str(entry_id)

    @_outage_is_unavailable
    def close(self, stream: str) -> None:
        self._sync.expire(self.key(stream), settings.EVENT_LOG_RETENTION_SECONDS)

    @_outage_is_unavailable
    def check(self) -> None:
        self._sync.ping()

    # --- reading ------------------------------------------------------------------------------
    @_outage_is_unavailable
    def entries(self, stream: str, after: str | None = None) -> list[Entry]:
        start = _after_id(after)
        low = "-" if start == "0-0" else f"({start}"
        return _decode(self._sync.xrange(self.key(stream), min=low, max="+"))

    @_outage_is_unavailable
    def exists(self, stream: str) -> bool:
        return bool(self._sync.exists(self.key(stream)))

    @_outage_is_unavailable
    async def wait(self, stream: str, after: str | None, timeout: float) -> list[Entry]:
        client = self._client()
        key = self.key(stream)
        block_ms = int(min(timeout, settings.EVENT_LOG_MAX_BLOCK_SECONDS) * 1000)
        # BLOCK 0 would mean "forever": a zero timeout is a plain non-blocking read.
        reply: Any = await client.xread(
            {key: _after_id(after)}, block=block_ms if block_ms > 0 else None
        )
        # Without COUNT, XREAD answers every entry after the id, not only the first to arrive.
        entries: list[Entry] = []
        for stream_reply in reply or []:
            entries.extend(_decode(stream_reply[1]))
        return entries

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        with self._async_lock:
            client = self._async.get(loop)
            if client is None:
                client = aioredis.Redis.from_url(
                    self.url,
                    decode_responses=True,
                    socket_timeout=settings.EVENT_LOG_MAX_BLOCK_SECONDS + BLOCK_HEADROOM_SECONDS,
                    socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    max_connections=settings.EVENT_LOG_MAX_CONNECTIONS,
                )
                self._async[loop] = client
            return client
