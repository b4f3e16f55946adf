"""``manage.py seed_demo``: idempotent demo data (``make run`` calls it on every start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps_runtime.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create demo@example.com with a 'Demo' workspace (owner), a shared one (member) and the "
        "demo apps; reset the demo password."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for line in demo_seed():
            self.stdout.write(line)
