"""``manage.py create_workspace NAME --owner EMAIL``: a workspace and its owner (a first
deployment: after ``createsuperuser``, before ``import_dsl --workspace NAME``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit import Actor
from accounts.models import Account
from config.api.errors import ApiError
from workspaces.services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace owned by an existing account; prints the workspace id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the workspace's name")
        parser.add_argument(
            "--owner", required=True, help="the owner's email (an existing account)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["owner"].strip()
        owner = Account.objects.filter(email__iexact=email).first()
        if owner is None:
            raise CommandError(
                f"no account {email}: create it first (manage.py createsuperuser for an "
                "administrator), then run this command again"
            )
        try:
            workspace = workspace_create(
                name=options["name"], owner=owner, actor=Actor.operator("create_workspace")
            )
        except ApiError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"workspace {workspace.name!r} created, owned by {owner.email}")
        self.stdout.write(str(workspace.id))
