"""The Celery app of the run workers (decisions §7, docs/decisions/17-celery.md).

``celery -A config worker -Q runs`` starts a worker; its settings come from Django's
(``CELERY_*``, set in ``config/settings.py`` from ``REDIS_URL`` / ``RUN_BROKER_URL``,
``RUN_CELERY_QUEUE`` and ``RUN_WORKERS``). The only task is the run job
(``apps_runtime.runs.tasks``); web processes publish it through ``RUN_EXECUTOR=celery``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("difyapi", include=["apps_runtime.runs.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")


@worker_init.connect
def _refuse_without_celery_executor(**kwargs: Any) -> None:
    """A worker is only useful with the executor that feeds it; say so instead of idling."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if settings.RUN_EXECUTOR != "celery":
        raise ImproperlyConfigured(
            "RUN_EXECUTOR must be 'celery' for a run worker (the web processes too)"
        )
