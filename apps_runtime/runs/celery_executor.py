"""``RUN_EXECUTOR=celery``: runs and resumes become tasks on the ``RUN_CELERY_QUEUE`` queue of the
broker (``RUN_BROKER_URL``, by default ``REDIS_URL``); ``celery -A config worker`` executes them.

In a web process it only publishes: ``submit`` first reads the queue's length (``LLEN`` of the
queue's list in Redis) and refuses with ``ExecutorFull`` (429) at ``RUN_QUEUE`` waiting jobs, so
no stream opens for a run that would wait behind them; a broker that cannot be reached raises
``ExecutorUnavailable`` (503) within ``RUN_BROKER_TIMEOUT_SECONDS``. In a worker it holds the runs
it executes (:class:`HeldRuns`: heartbeat and stop-flag poll), exactly like the thread pool.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from django.conf import settings

from apps_runtime.runs.executor import (
    JOB_KINDS,
    ExecutorFull,
    ExecutorUnavailable,
    HeldRuns,
    JobKind,
    _execute,
)

logger = logging.getLogger("difyapi.runs")


class CeleryExecutor:
    def __init__(self) -> None:
        self.runs = HeldRuns()
        self.queue = settings.RUN_CELERY_QUEUE
        self._lock = threading.Lock()
        self._redis: Any = None

    # -- interface -----------------------------------------------------------------------------

    def submit(self, kind: JobKind, run_id: uuid.UUID) -> None:
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        from apps_runtime.runs.tasks import run_job

        try:
            waiting = self.queue_length()
        except (RedisError, OSError) as exc:
            logger.error("run %s: the broker is unreachable: %s", run_id, exc)
            raise ExecutorUnavailable() from None
        if waiting >= settings.RUN_QUEUE:
            raise ExecutorFull()
        try:
            run_job.apply_async((kind, str(run_id)), queue=self.queue, retry=False)
        except (OperationalError, RedisError, OSError) as exc:
            logger.error("run %s: the job could not be queued: %s", run_id, exc)
            raise ExecutorUnavailable() from None

    def stop_requested(self, run_id: uuid.UUID) -> bool:
        return self.runs.stop_requested(run_id)

    def wait_idle(self, timeout: float) -> bool:
        """Whether the jobs this process executes (a worker's) finished within ``timeout``; a web
        process executes none."""
        return self.runs.wait_idle(timeout)

    # -- worker side ---------------------------------------------------------------------------

    def execute_here(self, kind: str, run_id: uuid.UUID) -> None:
        """Run one job in this (worker) process, holding its run meanwhile."""
        self.runs.run(kind, run_id, _execute)

    # -- broker --------------------------------------------------------------------------------

    def queue_length(self) -> int:
        """Jobs waiting in the broker (not yet taken by a worker)."""
        return int(self._client().llen(self.queue))

    def _client(self) -> Any:
        with self._lock:
            if self._redis is None:
                import redis

                timeout = settings.RUN_BROKER_TIMEOUT_SECONDS
                self._redis = redis.Redis.from_url(
                    settings.RUN_BROKER_URL,
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                )
            return self._redis
