"""The run job as a Celery task (``RUN_EXECUTOR=celery``; docs/decisions/17-celery.md).

The worker executes ``apps_runtime.runs.jobs.execute`` like the thread pool does, holding the run
in its executor's :class:`~apps_runtime.runs.executor.HeldRuns` meanwhile (heartbeat and stop-flag
poll). Early acknowledgement and the job's claim on the run row make delivery at most once.
"""

from __future__ import annotations

import logging
import uuid

from config.celery import app

logger = logging.getLogger("difyapi.runs")

TASK_NAME = "apps_runtime.runs.job"


@app.task(name=TASK_NAME, ignore_result=True, acks_late=False, bind=True)
def run_job(self: object, kind: str, run_id: str) -> None:
    from apps_runtime.runs.celery_executor import CeleryExecutor
    from apps_runtime.runs.executor import get_executor

    executor = get_executor()
    if not isinstance(executor, CeleryExecutor):  # config/celery.py refuses such a worker earlier
        logger.error("run %s: a run worker needs RUN_EXECUTOR=celery", run_id)
        return
    hostname = getattr(getattr(self, "request", None), "hostname", "") or ""
    logger.info("run %s: %s job on %s", run_id, kind, hostname)
    executor.execute_here(kind, uuid.UUID(run_id))
