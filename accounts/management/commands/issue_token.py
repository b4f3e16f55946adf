"""Print a new bearer token once, for operators and scripts."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import URLValidator, validate_email

from accounts.audit import Actor
from accounts.models import Account
from accounts.services import access_token_mint


class Command(BaseCommand):
    help = (
        "Issue a bearer token for an account (dfoa_) or, with --external-issuer, "
        "an SSO subject (dfoe_)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--label", default="issued by manage.py")
        parser.add_argument("--client-id", default="difyctl")
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--external-issuer", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"not an email address: {email}") from None
        days = options["days"]
        if days is not None and not 1 <= days <= 365:
            raise CommandError("--days must be between 1 and 365")
        label, client_id = options["label"], options["client_id"]
        if not label or len(label) > 255:
            raise CommandError("--label must be 1..255 characters")
        if not client_id or len(client_id) > 64:
            raise CommandError("--client-id must be 1..64 characters")
        issuer = options["external_issuer"]
        if issuer:
            try:
                URLValidator(schemes=["http", "https"])(issuer)
            except ValidationError:
                raise CommandError("--external-issuer must be an http(s) URL") from None
            minted = access_token_mint(
                client_id=client_id,
                device_label=label,
                external_email=email,
                external_issuer=issuer,
                ttl_days=days,
                actor=Actor.operator("issue_token"),
            )
        else:
            account = Account.objects.filter(email=email).first()
            if account is None:
                raise CommandError(f"no account with email {email}")
            if not account.is_active:
                raise CommandError(f"account {email} is disabled")
            minted = access_token_mint(
                client_id=client_id,
                device_label=label,
                account=account,
                ttl_days=days,
                actor=Actor.operator("issue_token"),
            )
        self.stderr.write(
            f"token id {minted.token.id}, expires {minted.token.expires_at:%Y-%m-%dT%H:%M:%SZ}"
        )
        self.stdout.write(minted.raw)
