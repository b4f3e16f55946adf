"""``manage.py housekeeping``: the periodic clean-up (decisions §7), for cron or by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from config.housekeeping import run_once


class Command(BaseCommand):
    help = "Run every registered housekeeping task once (each app registers its own in ready())."

    def handle(self, *args: Any, **options: Any) -> None:
        for label, count in run_once().items():
            self.stdout.write(f"{label}: {count}")
