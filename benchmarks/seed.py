"""Benchmark data (run by ``benchmarks.run`` in a child process against the bench database).

Prints one JSON object: bearer tokens and ids for the measured calls. Rows are bulk-inserted (the
growth sets hold 10,000 sessions and 10,000 apps); tokens are real ones (digest stored, as minted).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import AccessToken, Account  # noqa: E402
from accounts.tokens import ACCOUNT_PREFIX, generate_token, token_digest  # noqa: E402
from apps_runtime.models import App, AppMode  # noqa: E402
from workspaces.models import Membership, Workspace  # noqa: E402

SIZES = {"small": 100, "large": 10_000}


def _tokens(account: Account, count: int) -> str:
    """``count`` live sessions of ``account``; returns the raw value of the newest."""
    return mint_tokens(account, count)[-1]


def mint_tokens(account: Account, count: int) -> list[str]:
    """``count`` live sessions of ``account``, oldest first; returns their raw values."""
    now = timezone.now()
    rows, raws = [], []
    for i in range(count):
        raw = generate_token(ACCOUNT_PREFIX)
        raws.append(raw)
        rows.append(
            AccessToken(
                subject_type=AccessToken.SubjectType.ACCOUNT,
                subject_email=account.email,
                subject_issuer="dify:account",
                account=account,
                client_id="difyctl",
                device_label=f"bench device {i}",
                prefix=ACCOUNT_PREFIX,
                token_hash=token_digest(raw),
                created_at=now - timedelta(seconds=count - i),
                expires_at=now + timedelta(days=14),
            )
        )
    AccessToken.objects.bulk_create(rows, batch_size=2000)
    return raws


def _apps(workspace: Workspace, count: int) -> list[App]:
    now = timezone.now()
    apps = [
        App(
            workspace=workspace,
            name=f"Bench app {i:05d}",
            description="an app of the benchmark",
            mode=AppMode.CHAT,
            created_at=now - timedelta(seconds=count - i),
            updated_at=now - timedelta(seconds=count - i),
        )
        for i in range(count)
    ]
    return App.objects.bulk_create(apps, batch_size=2000)


@transaction.atomic
def seed() -> dict[str, object]:
    out: dict[str, object] = {}
    for size, count in SIZES.items():
        account = Account.objects.create_user(f"bench-{size}@example.com", "bench-password-1")
        workspace = Workspace.objects.create(name=f"Bench {size}")
        Membership.objects.create(workspace=workspace, account=account, role="owner", current=True)
        other = Workspace.objects.create(name=f"Bench {size} shared")
        Membership.objects.create(workspace=other, account=account, role="normal")
        apps = _apps(workspace, count)
        out[size] = {
            "rows": count,
            "token": _tokens(account, count),
            "workspace_id": str(workspace.id),
            "app_id": str(apps[-1].id),
        }
    return out


if __name__ == "__main__":
    data = seed()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(json.dumps(data))
