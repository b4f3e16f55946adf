"""Sandboxes started ahead of need, so that an execution does not wait for one to start.

A spare is a whole sandbox (bwrap, prlimit, the runtime and its launcher) blocked reading its
request on stdin; it runs nothing of anyone's until it is taken, runs exactly one program, and is
killed after it like any other (docs/decisions/18-sandbox.md: measured, a cold start costs more
than the code most nodes run). ``SANDBOX_SPARES`` per language and limits wait at most; a few
limit sets are kept (the most recently used), the rest are killed.

Spares are started by one long-lived thread: ``bwrap --die-with-parent`` ties a sandbox's life
to the thread that started it, and run worker threads may come and go.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from apps_runtime.sandbox.limits import Limits

logger = logging.getLogger(__name__)

MAX_KEYS = 4


@dataclass(frozen=True)
class SpareKey:
    """What makes two sandboxes interchangeable: the language, the limits and the tools."""

    language: str
    limits: Limits
    tools: tuple[str, ...]
    uid: int

    @classmethod
    def of(cls, language: str, limits: Limits) -> SpareKey:
        tools = (
            settings.SANDBOX_BWRAP,
            settings.SANDBOX_PRLIMIT,
            settings.SANDBOX_PYTHON,
            settings.SANDBOX_NODE,
        )
        return cls(language, limits, tools, int(settings.SANDBOX_UID))


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    result_read: int
    kill: Callable[[subprocess.Popen[bytes]], None]
    closed: bool = field(default=False)

    def alive(self) -> bool:
        return self.process.poll() is None

    def discard(self) -> None:
        """Kill its process group and release its pipes (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.kill(self.process)
        os.close(self.result_read)


Starter = Callable[[SpareKey], Started]


class _Spares:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: dict[SpareKey, list[Started]] = {}
        self.requests: queue.SimpleQueue[tuple[SpareKey, Starter]] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def _reset_after_fork(self) -> None:
        # A forked server process owns neither the parent's spares nor its thread.
        if self.pid != os.getpid():
            self.lock = threading.Lock()
            self.waiting = {}
            self.requests = queue.SimpleQueue()
            self.thread = None
            self.pid = os.getpid()

    def take(self, key: SpareKey) -> Started | None:
        self._reset_after_fork()
        with self.lock:
            ready = self.waiting.get(key) or []
            while ready:
                spare = ready.pop(0)
                if spare.alive():
                    self.waiting[key] = self.waiting.pop(key)  # most recently used last
                    return spare
                spare.discard()
        return None

    def refill(self, key: SpareKey, start: Starter) -> None:
        self._reset_after_fork()
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._keeper, name="sandbox-spares", daemon=True
                )
                self.thread.start()
        self.requests.put((key, start))

    def _keeper(self) -> None:
        while True:
            key, start = self.requests.get()
            try:
                self._fill(key, start)
            except Exception:  # a failed spare only means a cold start later
                logger.exception("could not start a spare sandbox")

    def _fill(self, key: SpareKey, start: Starter) -> None:
        wanted = int(settings.SANDBOX_SPARES)
        with self.lock:
            if len(self.waiting.get(key, [])) >= wanted:
                return
        spare = start(key)
        evicted: list[Started] = []
        with self.lock:
            ready = self.waiting.pop(key, [])
            ready.append(spare)
            self.waiting[key] = ready
            while len(self.waiting[key]) > wanted:
                evicted.append(self.waiting[key].pop(0))
            while len(self.waiting) > MAX_KEYS:
                oldest = next(iter(self.waiting))
                evicted.extend(self.waiting.pop(oldest))
        for old in evicted:
            old.discard()

    def clear(self) -> None:
        """Kill every waiting spare (tests; shutdown)."""
        with self.lock:
            waiting, self.waiting = self.waiting, {}
        for ready in waiting.values():
            for spare in ready:
                spare.discard()


_spares = _Spares()
take = _spares.take
refill = _spares.refill
clear = _spares.clear
