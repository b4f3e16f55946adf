"""Demo apps for ``manage.py seed_demo``: DSL files in ``demo_apps/``, imported idempotently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accounts.models import Account
from apps_runtime.dsl import dsl_parse
from apps_runtime.models import App
from apps_runtime.services import app_add_tags, app_import_parsed, app_set_access_mode
from workspaces.models import Workspace

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
)
SHARED_APPS: tuple[DemoApp, ...] = (DemoApp("echo_workflow.yml", ("shared", "workflow")),)


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
        workspace=workspace, parsed=parsed, author=author, actor_email="seed_demo"
    )
    app = result.app
    app_add_tags(app=app, names=spec.tags)
    app_set_access_mode(
        app=app, access_mode=spec.access_mode, actor_type="system", actor_email="seed_demo"
    )
    line = f"app {app.name} ({app.mode}) in {workspace.name}: {app.id}"
    return "\n".join([line, *(f"  warning: {warning}" for warning in result.warnings)])
