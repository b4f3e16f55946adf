"""``manage.py housekeeping``: the periodic clean-up (decisions §7), for cron or by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import access_tokens_expire_overdue
from oauth_device.services import device_grants_purge

# (what, task) pairs; each task returns how many items it handled. Other apps add theirs here.
TASKS: list[tuple[str, Callable[[], int]]] = [
    ("expired or consumed device grants purged", device_grants_purge),
    ("overdue access tokens expired", access_tokens_expire_overdue),
]


class Command(BaseCommand):
    help = "Run every housekeeping task once (purge expired device grants, expire overdue tokens)."

    def handle(self, *args: Any, **options: Any) -> None:
        for label, task in TASKS:
            count = task()
            self.stdout.write(f"{label}: {count}")
