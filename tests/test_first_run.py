"""A production first run from the README alone (issue 22 items 2-4), on PostgreSQL: the operator
writes ``.env``, creates an administrator, a workspace with its owner and a member, and
imports an app into the workspace, every command in its own process reading
the same ``.env`` and nothing else; the invitation link follows the configured port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
DROPPED = ("DATABASE_URL", "REDIS_URL", "TESTING", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")


@pytest.fixture
def test_database(transactional_db) -> str:
    """The test run's PostgreSQL database (migrated, emptied after the test), as a URL: the
    commands below run in processes of their own and must see what the others committed."""
    base = settings.DATABASE_URL.rsplit("/", 1)[0]
    return f"{base}/{settings.DATABASES['default']['NAME']}"


@pytest.mark.shared_services
def test_first_run_on_postgresql_from_the_env_file(test_database, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"DATABASE_URL={test_database}\n"
        f"REDIS_URL={settings.REDIS_URL}\n"
        f"SECRET_KEY={'k' * 50}\n"
        "SERVE_WSGI_PORT=9137\n",
        encoding="utf-8",
    )
    sqlite = tmp_path / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith("PYTEST")}
    env.update(ENV_FILE=str(env_file), SQLITE_PATH=str(sqlite))

    def manage(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (args, result.stdout[-1500:], result.stderr[-1500:])
        return result

    # `manage.py migrate` is the README's first step; the test database is migrated already.
    manage(
        "createsuperuser",
        "--noinput",
        "--email",
        "ops@example.com",
        "--name",
        "Ops",
        DJANGO_SUPERUSER_PASSWORD="an-ops-password-1",
    )
    workspace_id = manage("create_workspace", "Acme", "--owner", "ops@example.com").stdout.strip()
    assert uuid.UUID(workspace_id)
    invited = manage("add_member", "Acme", "colleague@example.com", "--role", "editor")
    link = invited.stdout.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:9137/invite/[\w-]+", link), link
    app_id = manage(
        "import_dsl", "apps_runtime/demo_apps/echo_workflow.yml", "--workspace", "Acme"
    ).stdout.strip()

    with psycopg.connect(test_database) as connection:
        owner = connection.execute(
            "SELECT m.role, m.current FROM workspaces_membership m "
            "JOIN accounts_account a ON a.id = m.account_id "
            "WHERE a.email = 'ops@example.com' AND m.workspace_id = %s",
            [workspace_id],
        ).fetchone()
        assert owner == ("owner", True)
        member = connection.execute(
            "SELECT m.role, m.pending FROM workspaces_membership m "
            "JOIN accounts_account a ON a.id = m.account_id "
            "WHERE a.email = 'colleague@example.com'"
        ).fetchone()
        assert member == ("editor", True)
        assert connection.execute(
            "SELECT workspace_id::text FROM apps_runtime_app WHERE id = %s", [app_id]
        ).fetchone() == (workspace_id,)
    assert not sqlite.exists()  # nothing went to the embedded database


@pytest.mark.django_db
def test_the_first_run_commands_say_what_is_missing(acme, alice):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"no account nobody@example\.com: create it first "):
        call_command("create_workspace", "Other", "--owner", "nobody@example.com")
    with pytest.raises(
        CommandError, match=r"no workspace named 'Nope' \(manage\.py create_workspace"
    ):
        call_command("add_member", "Nope", "x@example.com")
    with pytest.raises(CommandError, match="already a member"):
        call_command("add_member", str(acme.id), alice.email)
