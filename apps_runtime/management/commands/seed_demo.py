"""``manage.py seed_demo``: idempotent demo data (``make run`` calls it on every start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps_runtime.demo import demo_admin_seed, demo_seed


class Command(BaseCommand):
    help = (
        "Create demo@example.com with a 'Demo' workspace (owner), a shared one (member) and the "
        "demo apps; reset the demo password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--with-admin",
            action="store_true",
            help="also create (or reset) admin@example.com, a superuser with the demo password: "
            "for a local `make run` only, never on a shared server",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for line in demo_seed():
            self.stdout.write(line)
        if options["with_admin"]:
            self.stdout.write(demo_admin_seed())
        else:
            self.stdout.write("an administrator for /admin/: manage.py createsuperuser")
