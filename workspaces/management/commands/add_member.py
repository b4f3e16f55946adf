"""``manage.py add_member WORKSPACE EMAIL [--role ROLE]``: add a member as the operator.

By the same rules as an invitation from the API: an email without an account gets a pending
account and a single-use link (printed) where its owner sets a password; an existing account
joins at once (or, when it never proved its address, is mailed a confirmation link).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from accounts.audit import Actor
from config.api.errors import ApiError
from config.public_url import link_base_url
from workspaces.members import member_add
from workspaces.models import ASSIGNABLE_ROLES
from workspaces.selectors import workspace_by_id_or_name


class Command(BaseCommand):
    help = (
        "Add an account to a workspace (by id or exact name). A new email gets a pending account "
        "and an invitation link, printed on stdout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workspace", help="the workspace's id or exact name")
        parser.add_argument("email", help="the member's email")
        parser.add_argument("--role", default="normal", choices=ASSIGNABLE_ROLES)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = workspace_by_id_or_name(options["workspace"])
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        base = link_base_url()
        try:
            result = member_add(
                workspace,
                email=options["email"],
                role=options["role"],
                actor=Actor.operator("add_member"),
                link_base=base,
            )
        except ApiError as exc:
            raise CommandError(exc.message) from None
        account = result.membership.account
        if result.token:
            self.stderr.write(
                f"{account.email} invited to {workspace.name!r} as {options['role']}: send them "
                "this single-use link, where they set a password"
            )
            self.stdout.write(base + reverse("invite", args=[result.token]))
        elif result.membership.pending:
            self.stdout.write(
                f"{account.email} added to {workspace.name!r} as {options['role']}, pending: a "
                "confirmation link was mailed to the address"
            )
        else:
            self.stdout.write(f"{account.email} added to {workspace.name!r} as {options['role']}")
