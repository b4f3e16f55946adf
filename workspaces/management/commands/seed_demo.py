"""Idempotent demo data: a demo account, its workspaces and (when the catalog exists) demo apps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account
from workspaces.models import Membership, Workspace

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create demo@example.com with a 'Demo' workspace (owner) and a shared one (member)."

    def handle(self, *args: Any, **options: Any) -> None:
        password = settings.DEMO_PASSWORD
        with transaction.atomic():
            account = Account.objects.filter(email=DEMO_EMAIL).first()
            if account is None:
                account = Account.objects.create_user(DEMO_EMAIL, password, name="Demo User")
            else:
                account.set_password(password)
                account.status = Account.Status.ACTIVE
                account.save(update_fields=["password", "status"])
            demo = _workspace("Demo")
            shared = _workspace("Shared Team")
            Membership.objects.get_or_create(
                workspace=demo,
                account=account,
                defaults={"role": Membership.Role.OWNER, "current": True},
            )
            Membership.objects.get_or_create(
                workspace=shared, account=account, defaults={"role": Membership.Role.NORMAL}
            )
            seeded_apps = _seed_apps(demo, shared, account)
        self.stdout.write(f"demo account: {DEMO_EMAIL} / password: {password}")
        self.stdout.write(f"workspaces: Demo ({demo.id}), Shared Team ({shared.id})")
        for line in seeded_apps:
            self.stdout.write(line)


def _workspace(name: str) -> Workspace:
    workspace = Workspace.objects.filter(name=name).order_by("created_at").first()
    return workspace or Workspace.objects.create(name=name)


def _seed_apps(demo: Workspace, shared: Workspace, account: Account) -> list[str]:
    """Demo apps come from the app catalog; before it exists there is nothing to add."""
    try:
        from apps_runtime.demo import seed_demo_apps  # type: ignore[attr-defined]
    except ImportError:
        return []
    return list(seed_demo_apps(demo=demo, shared=shared, author=account))
