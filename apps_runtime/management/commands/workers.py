"""``manage.py workers``: the run workers that answered a ping, their active jobs, the queue."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps_runtime.runs.workers import report_lines, workers_report


class Command(BaseCommand):
    help = (
        "List the Celery run workers that answer a ping, the jobs each is executing and the "
        "number of jobs waiting in the queue. Exits 1 when no worker answers or the broker is "
        "unreachable (RUN_EXECUTOR=celery)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=1.0, help="seconds to wait (1)")

    def handle(self, *args: Any, **options: Any) -> None:
        report = workers_report(timeout=max(0.1, options["timeout"]))
        for line in report_lines(report):
            self.stdout.write(line)
        if not report.healthy:
            raise CommandError("no run worker is available", returncode=1)
