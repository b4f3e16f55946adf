"""Demo data for ``manage.py seed_demo``, idempotent: the demo account, its two workspaces and the
demo apps (DSL files in ``demo_apps/``).

It lives with the app catalog because the demo apps do; the workspaces app never imports the
runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from accounts.audit import Actor
from accounts.models import Account
from apps_runtime.dsl import dsl_parse
from apps_runtime.models import App
from apps_runtime.services import app_add_tags, app_import_parsed, app_set_access_mode
from workspaces.models import Membership, Workspace

DEMO_EMAIL = "demo@example.com"
# ``make run`` only (``seed_demo --with-admin``): a local administrator for /admin/. The demo
# account itself stays a plain user, as API users are.
DEMO_ADMIN_EMAIL = "admin@example.com"

DEMO_APPS_DIR = Path(__file__).resolve().parent / "demo_apps"


@dataclass(frozen=True)
class DemoApp:
    filename: str
    tags: tuple[str, ...]
    access_mode: str = App.AccessMode.PRIVATE_ALL


# Access modes vary so that an external SSO token sees some of them on /permitted-external-apps.
DEMO_APPS: tuple[DemoApp, ...] = (
    DemoApp("echo_chat.yml", ("demo", "chat"), App.AccessMode.PUBLIC),
    DemoApp("echo_workflow.yml", ("demo", "workflow"), App.AccessMode.SSO_VERIFIED),
    DemoApp("support_bot.yml", ("demo", "chat")),
    DemoApp("approval_request.yml", ("demo", "workflow", "human-input")),
    DemoApp("quick_confirm.yml", ("demo", "workflow", "human-input")),
    DemoApp("two_step_approval.yml", ("demo", "workflow", "human-input")),
    DemoApp("emailed_review.yml", ("demo", "workflow", "human-input")),
)
SHARED_APPS: tuple[DemoApp, ...] = (DemoApp("echo_workflow.yml", ("shared", "workflow")),)


def demo_admin_seed() -> str:
    """Create (or reset) the local demo administrator; return what to print."""
    with transaction.atomic():
        _account_with_demo_password(DEMO_ADMIN_EMAIL, "Demo Admin", superuser=True)
    return f"demo admin (for /admin/): {DEMO_ADMIN_EMAIL} / password: {settings.DEMO_PASSWORD}"


def _account_with_demo_password(email: str, name: str, *, superuser: bool = False) -> Account:
    """The account, created or reset to the demo password (active; a superuser if asked)."""
    password = settings.DEMO_PASSWORD
    account = Account.objects.filter(email=email).first()
    if account is None:
        create = Account.objects.create_superuser if superuser else Account.objects.create_user
        return create(email, password, name=name)
    account.set_password(password)
    account.status = Account.Status.ACTIVE
    fields = ["password", "status"]
    if superuser:
        account.is_staff = account.is_superuser = True
        fields += ["is_staff", "is_superuser"]
    account.save(update_fields=fields)
    return account


def demo_seed() -> list[str]:
    """Create (or reset the password of) the demo account, its workspaces and the demo apps;
    return what to print."""
    password = settings.DEMO_PASSWORD
    with transaction.atomic():
        account = _account_with_demo_password(DEMO_EMAIL, "Demo User")
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
        app_lines = seed_demo_apps(demo=demo, shared=shared, author=account)
    return [
        f"demo account (API, device login; not an admin): {DEMO_EMAIL} / password: {password}",
        f"workspaces: Demo ({demo.id}), Shared Team ({shared.id})",
        *app_lines,
    ]


def _workspace(name: str) -> Workspace:
    workspace = Workspace.objects.filter(name=name).order_by("created_at").first()
    return workspace or Workspace.objects.create(name=name)


def seed_demo_apps(*, demo: Workspace, shared: Workspace, author: Account) -> list[str]:
    """Import the demo apps that are missing (by name) and return one line per app."""
    lines = [_seed(workspace=demo, spec=spec, author=author) for spec in DEMO_APPS]
    lines += [_seed(workspace=shared, spec=spec, author=author) for spec in SHARED_APPS]
    return lines


def demo_app_path(filename: str) -> Path:
    return DEMO_APPS_DIR / filename


def _seed(*, workspace: Workspace, spec: DemoApp, author: Account) -> str:
    yaml_text = demo_app_path(spec.filename).read_text(encoding="utf-8")
    parsed = dsl_parse(yaml_text)
    existing = App.objects.filter(workspace=workspace, name=parsed.name).first()
    if existing is not None:
        return f"app {parsed.name} ({existing.mode}) in {workspace.name}: {existing.id} (exists)"
    result = app_import_parsed(
        workspace=workspace, parsed=parsed, author=author, actor=Actor.operator("seed_demo")
    )
    app = result.app
    app_add_tags(app=app, names=spec.tags)
    app_set_access_mode(app=app, access_mode=spec.access_mode, actor=Actor.operator("seed_demo"))
    line = f"app {app.name} ({app.mode}) in {workspace.name}: {app.id}"
    return "\n".join([line, *(f"  warning: {warning}" for warning in result.warnings)])
