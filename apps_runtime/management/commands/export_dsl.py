"""``manage.py export_dsl APP_ID [--output FILE]``: write an app as Dify DSL (YAML)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps_runtime.dsl import DslError, app_export_dsl
from apps_runtime.models import App, WorkflowVersion


class Command(BaseCommand):
    help = "Export an app as Dify DSL YAML (stdout unless --output is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app_id", help="the app's id")
        parser.add_argument("--output", "-o", default=None, help="write the YAML to this file")
        parser.add_argument(
            "--workflow-id",
            default=None,
            help="export this workflow version (default: the draft, else the published one)",
        )
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="keep the values of secret environment variables",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app = _app(options["app_id"])
        workflow = _workflow(app, options["workflow_id"]) if options["workflow_id"] else None
        try:
            text = app_export_dsl(
                app, workflow=workflow, include_secrets=options["include_secrets"]
            )
        except DslError as exc:
            raise CommandError(exc.message) from None
        output = options["output"]
        if output:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
            self.stderr.write(f"wrote {output}")
        else:
            self.stdout.write(text, ending="")


def _app(value: str) -> App:
    try:
        app_id = uuid.UUID(value)
    except ValueError:
        raise CommandError(f"app not found: {value}") from None
    app = App.objects.filter(pk=app_id).first()
    if app is None:
        raise CommandError(f"app not found: {value}")
    return app


def _workflow(app: App, value: str) -> WorkflowVersion:
    try:
        workflow_id = uuid.UUID(value)
    except ValueError:
        raise CommandError(f"workflow version not found: {value}") from None
    version = WorkflowVersion.objects.filter(pk=workflow_id, app=app).first()
    if version is None:
        raise CommandError(f"workflow version not found for this app: {value}")
    return version
