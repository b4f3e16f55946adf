"""The run-event log (decisions §6): the single source for live delivery, replay and re-attach.

``event_log()`` is the process's log: Redis Streams when ``settings.REDIS_URL`` is set (shared by
every process), in-process otherwise. Public API::

    log = event_log()
    entry_id = log.append(task_id, {"event": "node_started", ...})   # any thread
    log.entries(task_id, after=None)            # [(id, event), ...] in order
    await log.wait(task_id, after, timeout)     # on an event loop; [] after timeout
    log.close(task_id)                          # run ended: kept EVENT_LOG_RETENTION_SECONDS more
    log.exists(task_id)
    log.check()                                 # raises EventLogUnavailable (Redis down)

Every method raises ``EventLogUnavailable`` when the store cannot be reached (decisions 16-faults).

Ids are ``<ms>-<seq>`` in both backends, strictly increasing per stream (the SSE ``id:``).

On an event loop (consumers) read with ``await log.wait(stream, after, timeout)`` only —
``timeout=0`` is a non-blocking replay of what is there. ``append``/``entries``/``close``/
``exists`` are synchronous (a Redis round trip with ``REDIS_URL``): call them from worker threads,
or from a coroutine through ``sync_to_async(..., thread_sensitive=False)``.
"""

from __future__ import annotations

import threading

from django.conf import settings

from apps_runtime.events.base import Entry, EventLog, EventLogUnavailable, entry_id_key

__all__ = [
    "Entry",
    "EventLog",
    "EventLogUnavailable",
    "entry_id_key",
    "event_log",
    "event_log_reset",
    "event_logs_purge",
]

_lock = threading.Lock()
_cached: tuple[str, EventLog] | None = None


def event_log() -> EventLog:
    """This process's event log, created once per ``REDIS_URL`` value."""
    global _cached
    url = settings.REDIS_URL
    cached = _cached
    if cached is not None and cached[0] == url:
        return cached[1]
    with _lock:
        if _cached is None or _cached[0] != url:
            _cached = (url, _build(url))
        return _cached[1]


def event_log_reset() -> None:
    """Forget the cached log (tests: a fresh in-process log, or another ``REDIS_URL``)."""
    global _cached
    with _lock:
        _cached = None


def event_logs_purge() -> int:
    """Housekeeping: drop in-process streams past retention (Redis expires its keys itself)."""
    from apps_runtime.events.memory import MemoryEventLog

    log = event_log()
    return log.purge_expired() if isinstance(log, MemoryEventLog) else 0


def _build(url: str) -> EventLog:
    if url:
        from apps_runtime.events.redis import RedisEventLog

        return RedisEventLog(url)
    from apps_runtime.events.memory import MemoryEventLog

    return MemoryEventLog()
