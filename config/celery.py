"""The Celery app of the run workers (decisions §7, docs/decisions/17-celery.md).

``celery -A config worker -Q runs`` starts a worker; its settings come from Django's
(``CELERY_*``, set in ``config/settings.py`` from ``REDIS_URL`` / ``RUN_BROKER_URL``,
``RUN_CELERY_QUEUE`` and ``RUN_WORKERS``). The only task is the run job
(``apps_runtime.runs.tasks``); web processes publish it through ``RUN_EXECUTOR=celery``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from celery import Celery
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _started_as_worker() -> bool:
    """``celery ... worker`` (or ``python -m celery ... worker``), not ``celery inspect``."""
    program = Path(sys.argv[0]).name if sys.argv else ""
    return program in {"celery", "__main__.py"} and "worker" in sys.argv[1:]


def _check_settings() -> None:
    """Start-up refusals in one line, like ``manage.py``'s: a bad environment value, and a worker
    without the executor that feeds it (it would idle, or run jobs nobody sent)."""
    from django.conf import settings

    try:
        executor = settings.RUN_EXECUTOR
    except ImproperlyConfigured as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    if executor != "celery" and _started_as_worker():
        raise SystemExit(
            "configuration error: RUN_EXECUTOR must be 'celery' for a run worker "
            "(and for the web processes that feed it)"
        )


_check_settings()
app = Celery("difyapi", include=["apps_runtime.runs.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
