"""Periodic clean-up (decisions §7): one task list, run by ``manage.py housekeeping`` (cron) and
by a background thread in each server process every ``HOUSEKEEPING_SECONDS``.

Each Django app registers its own tasks from ``AppConfig.ready()`` with :func:`register_task`, so
this module knows no app. A cache lock lets only one process run a round at a time; with Redis that
holds across machines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connections

logger = logging.getLogger("difyapi.housekeeping")


def lock_key() -> str:
    """The cache lock of a round. It carries ``RATE_LIMIT_KEY_PREFIX`` like the other cache keys
    tests isolate: servers a test starts must not wait on the lock of unrelated servers sharing
    the same Redis."""
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:housekeeping:lock"


_started = threading.Event()
_registry: dict[str, Callable[[], int]] = {}


def register_task(label: str, task: Callable[[], int]) -> None:
    """Add a task to every round; ``label`` says what it does and its result counts items.

    Registering the same label again replaces the task (``ready()`` may run more than once).
    """
    _registry[label] = task


def tasks() -> list[tuple[str, Callable[[], int]]]:
    """(what, task) pairs in registration order; each task returns how many items it handled."""
    return list(_registry.items())


def run_once() -> dict[str, int]:
    """Run every task once; a task that fails is logged and the others still run."""
    results: dict[str, int] = {}
    for label, task in tasks():
        try:
            results[label] = task()
        except Exception:
            logger.exception("housekeeping task failed: %s", label)
    return results


def run_locked() -> dict[str, int] | None:
    """One round unless another process holds the lock (then ``None``)."""
    period = settings.HOUSEKEEPING_SECONDS
    try:
        acquired = cache.add(lock_key(), "1", timeout=max(1, period - 1))
    except Exception as exc:  # cache unreachable: skip this round rather than race
        logger.warning("housekeeping lock unavailable: %s", exc)
        return None
    if not acquired:
        return None
    return run_once()


def start_background() -> threading.Event | None:
    """Start this process's housekeeping thread, once; returns the event that stops it."""
    if _started.is_set() or settings.TESTING:
        return None
    _started.set()
    stop = threading.Event()
    threading.Thread(target=_loop, args=(stop,), name="housekeeping", daemon=True).start()
    return stop


def _loop(stop: threading.Event) -> None:
    while not stop.wait(settings.HOUSEKEEPING_SECONDS):
        close_old_connections()
        try:
            results = run_locked()
            if results and any(results.values()):
                logger.info("housekeeping: %s", results)
        finally:
            connections.close_all()
