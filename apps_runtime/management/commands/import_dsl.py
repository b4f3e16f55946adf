"""``manage.py import_dsl FILE --workspace ID_OR_NAME [--name NAME]``: create an app from DSL.

The file is checked before the workspace is looked up, so a broken file fails the same way anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import Actor
from apps_runtime.dsl import DslError, dsl_parse
from apps_runtime.models import AppImport
from apps_runtime.transfer.imports import Importer, ImportOptions, dsl_import, dsl_import_confirm
from workspaces.models import Workspace
from workspaces.selectors import workspace_by_id_or_name


class Command(BaseCommand):
    help = (
        "Import a Dify app DSL file (YAML) into a workspace. Prints the new app's id on stdout "
        "and warnings on stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the DSL file (YAML); '-' reads standard input")
        parser.add_argument("--workspace", required=True, help="the workspace's id or exact name")
        parser.add_argument("--name", default=None, help="the app's name (default: app.name)")
        parser.add_argument(
            "--allow-newer",
            action="store_true",
            help="import a file of a newer DSL version as is (the API asks for a confirm)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        text = _read(source)
        try:
            dsl_parse(text, allow_newer=options["allow_newer"])
        except DslError as exc:
            raise CommandError(f"{source}: {exc.message}{_newer_hint(text, options)}") from None
        workspace = workspace_lookup(options["workspace"])
        # The same service as the API's import and the admin upload.
        importer = Importer(actor=Actor.operator("import_dsl"))
        result = dsl_import(
            workspace=workspace,
            yaml_text=text,
            importer=importer,
            options=ImportOptions(name=options["name"]),
        )
        if result.status == AppImport.Status.PENDING:
            result = dsl_import_confirm(record=result, importer=importer)
        if result.status == AppImport.Status.FAILED or result.app is None:
            raise CommandError(f"{source}: {result.error}")
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(str(result.app.id))


def _newer_hint(text: bytes, options: dict[str, Any]) -> str:
    """When only the file's DSL version stopped it, name the option that takes it as is."""
    if options["allow_newer"]:
        return ""
    try:
        dsl_parse(text, allow_newer=True)
    except DslError:
        return ""
    return " (to import it as is, run the command again with --allow-newer)"


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


def workspace_lookup(value: str) -> Workspace:
    try:
        return workspace_by_id_or_name(value)
    except LookupError as exc:
        raise CommandError(str(exc)) from None
