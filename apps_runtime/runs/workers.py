"""What an operator sees of the run workers (``manage.py workers``, the admin's "Run workers"
page): the workers that answered (one ``inspect active`` broadcast: every live worker replies,
with the jobs it is executing), and the broker queue's length. Built on Celery's remote control,
as ``celery inspect`` and Flower are."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class ActiveJob:
    kind: str
    run_id: str
    seconds: float | None  # since the worker started it


@dataclass(frozen=True)
class WorkerState:
    name: str
    jobs: list[ActiveJob]


@dataclass
class WorkersReport:
    executor: str
    queue: str = ""
    waiting: int | None = None
    workers: list[WorkerState] = field(default_factory=list)
    error: str = ""

    @property
    def healthy(self) -> bool:
        """The thread executor, or Celery with a reachable broker and at least one worker."""
        return self.executor != "celery" or (not self.error and bool(self.workers))


def _job(task: dict[str, Any], now: float) -> ActiveJob:
    args = task.get("args")
    if not isinstance(args, (list, tuple)):
        args = []
    started = task.get("time_start")
    return ActiveJob(
        kind=str(args[0]) if len(args) > 0 else "?",
        run_id=str(args[1]) if len(args) > 1 else "?",
        seconds=round(now - started, 1) if isinstance(started, (int, float)) else None,
    )


def workers_report(timeout: float = 1.0) -> WorkersReport:
    if settings.RUN_EXECUTOR != "celery":
        return WorkersReport(executor=settings.RUN_EXECUTOR)
    from apps_runtime.runs.celery_executor import CeleryExecutor
    from apps_runtime.runs.executor import get_executor
    from config.celery import app

    executor = get_executor()
    assert isinstance(executor, CeleryExecutor)
    report = WorkersReport(executor="celery", queue=executor.queue)
    try:
        report.waiting = executor.queue_length()
        # One broadcast serves as the ping: every worker alive answers it with its active jobs.
        active = app.control.inspect(timeout=timeout).active() or {}
    except Exception as exc:  # the broker is unreachable: say so, never a traceback
        report.error = f"the broker is unreachable: {exc}"
        return report
    now = time.time()
    report.workers = [
        WorkerState(name=name, jobs=[_job(task, now) for task in active[name] or []])
        for name in sorted(active)
    ]
    return report


def report_lines(report: WorkersReport) -> list[str]:
    if report.executor != "celery":
        return [f"RUN_EXECUTOR={report.executor}: jobs run inside the server processes; no workers"]
    waiting = report.waiting if report.waiting is not None else "?"
    lines = [f"queue {report.queue!r}: {waiting} waiting"]
    if report.error:
        return [*lines, report.error]
    if not report.workers:
        lines.append("no worker answered the ping")
    for worker in report.workers:
        lines.append(f"{worker.name}: {len(worker.jobs)} active")
        for job in worker.jobs:
            since = f", {job.seconds}s" if job.seconds is not None else ""
            lines.append(f"  {job.kind} {job.run_id}{since}")
    return lines
