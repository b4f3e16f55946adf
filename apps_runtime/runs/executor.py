"""Where run and resume jobs execute (decisions §7), behind one narrow interface.

``get_executor().submit(kind, run_id)`` with kind ``"run"`` or ``"resume"``; the job reads
everything else from the database (``apps_runtime.runs.jobs.execute``). ``RUN_EXECUTOR`` picks the
implementation: ``thread`` (the default) is a bounded pool in this process: ``RUN_WORKERS``
threads and a queue of ``RUN_QUEUE`` waiting jobs — a full queue raises ``ExecutorFull`` (429);
``celery`` publishes the jobs to Celery workers (``celery_executor.CeleryExecutor``; a full broker
queue raises ``ExecutorFull``, an unreachable broker ``ExecutorUnavailable``, 503).

Whichever executes a job keeps the heartbeat of every run it holds (:class:`HeldRuns`: one thread
for all of them, one UPDATE every ``RUN_HEARTBEAT_SECONDS``), so a run waiting on a silent model
stays alive while its process does, and goes stale when the process dies (the stale sweep then
fails it). The same round reads the stop flags from the database, so a stop reaches the job even
without a shared cache.

Database connections: ``DB_POOL_MAX`` must exceed ``RUN_WORKERS`` plus the request threads only
if workers held connections while waiting; they do not (jobs close theirs after each write and
before every model call), so the pool needs a handful of connections, not one per worker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Literal, Protocol

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger("difyapi.runs")

JobKind = Literal["run", "resume"]
JOB_KINDS: tuple[str, ...] = ("run", "resume")


class ExecutorFull(Exception):
    """No room for another job right now (429 ``too_many_requests``)."""


class ExecutorUnavailable(Exception):
    """The job could not be handed over: the broker is unreachable (503)."""


class Executor(Protocol):
    def submit(self, kind: JobKind, run_id: uuid.UUID) -> None:
        """Queue a job; raise ``ExecutorFull`` when it cannot be accepted."""

    def stop_requested(self, run_id: uuid.UUID) -> bool:
        """Whether this executor has seen a stop for ``run_id`` (from its database poll)."""

    def wait_idle(self, timeout: float) -> bool:
        """Whether every job accepted here finished within ``timeout`` seconds."""


def _execute(kind: str, run_id: uuid.UUID) -> None:
    from apps_runtime.runs.jobs import execute

    execute(kind, run_id)


class HeldRuns:
    """The runs this process holds (queued here or executing here), with their heartbeat and
    stop-flag poll: one thread for all of them, one UPDATE every ``RUN_HEARTBEAT_SECONDS``.

    Both executors use it: the thread pool of a web process and a Celery worker (for the jobs it
    executes). A run held here stays alive while this process does and goes stale when it dies.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[uuid.UUID] = set()
        self._stopped: set[uuid.UUID] = set()
        self._heartbeat: threading.Thread | None = None

    def add(self, run_id: uuid.UUID) -> None:
        with self._lock:
            self._held.add(run_id)
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(
                    target=self._beat, name="run-heartbeat", daemon=True
                )
                self._heartbeat.start()

    def discard(self, run_id: uuid.UUID) -> None:
        with self._lock:
            self._held.discard(run_id)
            self._stopped.discard(run_id)

    def held(self) -> set[uuid.UUID]:
        with self._lock:
            return set(self._held)

    def stop_requested(self, run_id: uuid.UUID) -> bool:
        with self._lock:
            return run_id in self._stopped

    def run(self, kind: str, run_id: uuid.UUID, job: Callable[[str, uuid.UUID], None]) -> None:
        """Execute one job while holding its run; the run is let go however the job ends."""
        self.add(run_id)
        try:
            job(kind, run_id)
        except Exception:
            logger.exception("run job %s %s crashed", kind, run_id)
        finally:
            self.discard(run_id)
            connection.close()

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.held():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _beat(self) -> None:
        stop = threading.Event()
        while not stop.wait(settings.RUN_HEARTBEAT_SECONDS):
            held = self.held()
            if not held:
                continue
            try:
                self.beat(held)
            except Exception:
                logger.exception("run heartbeat failed")
            finally:
                connection.close()

    def beat(self, held: set[uuid.UUID]) -> None:
        """One heartbeat round: refresh ``heartbeat_at`` and pick up stop flags."""
        from apps_runtime.runs.models import Run

        ids = list(held)
        Run.objects.filter(id__in=ids, status=Run.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )
        stopped = set(
            Run.objects.filter(id__in=ids, stop_requested_at__isnull=False).values_list(
                "id", flat=True
            )
        )
        with self._lock:
            self._stopped |= stopped & self._held


class ThreadExecutor:
    def __init__(
        self,
        *,
        workers: int,
        capacity: int,
        job: Callable[[str, uuid.UUID], None] = _execute,
    ) -> None:
        self._queue: queue.Queue[tuple[str, uuid.UUID]] = queue.Queue(maxsize=capacity)
        self._workers = workers
        self._job = job
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.runs = HeldRuns()

    # -- interface -----------------------------------------------------------------------------

    def submit(self, kind: JobKind, run_id: uuid.UUID) -> None:
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        self._start()
        with self._lock:
            try:
                self._queue.put_nowait((kind, run_id))
            except queue.Full:
                raise ExecutorFull() from None
            self.runs.add(run_id)  # queued runs are kept alive too

    def stop_requested(self, run_id: uuid.UUID) -> bool:
        return self.runs.stop_requested(run_id)

    def held(self) -> set[uuid.UUID]:
        """Runs queued or executing here (what the heartbeat keeps alive)."""
        return self.runs.held()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or running (tests: before their database is flushed)."""
        return self.runs.wait_idle(timeout)

    # -- threads -------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._work, name=f"run-worker-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            kind, run_id = self._queue.get()
            try:
                self.runs.run(kind, run_id, self._job)
            finally:
                self._queue.task_done()


_executor: Executor | None = None
_executor_lock = threading.Lock()


def get_executor() -> Executor:
    """This process's executor, chosen by ``RUN_EXECUTOR``."""
    global _executor
    with _executor_lock:
        if _executor is None:
            if settings.RUN_EXECUTOR == "celery":
                from apps_runtime.runs.celery_executor import CeleryExecutor

                _executor = CeleryExecutor()
            elif settings.RUN_EXECUTOR == "thread":
                _executor = ThreadExecutor(
                    workers=settings.RUN_WORKERS, capacity=settings.RUN_QUEUE
                )
            else:
                raise RuntimeError(f"RUN_EXECUTOR {settings.RUN_EXECUTOR!r} is not available")
        return _executor
