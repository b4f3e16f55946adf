"""``manage.py import_dsl`` and ``export_dsl`` as an operator uses them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.audit import Actor
from apps_runtime.models import App, WorkflowVersion
from apps_runtime.services import app_import_dsl
from apps_runtime.tests.test_dsl_import import FULL_SHAPES, snapshot
from apps_runtime.tests.test_dsl_parse import BROKEN
from workspaces.models import Workspace

TEST_ACTOR = Actor.operator("pytest")

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("mode", list(FULL_SHAPES))
def test_import_prints_the_new_app_id_and_export_round_trips(acme, tmp_path, mode):
    path = FIXTURES / FULL_SHAPES[mode]
    out, _ = run("import_dsl", str(path), "--workspace", str(acme.id))
    app = App.objects.get(pk=out.strip())
    assert (app.mode, app.workspace) == (mode, acme)

    exported, _ = run("export_dsl", str(app.id))
    assert exported == path.read_text(encoding="utf-8")

    copy = tmp_path / "copy.yml"
    _, err = run("export_dsl", str(app.id), "--output", str(copy))
    assert f"wrote {copy}" in err
    again, _ = run("import_dsl", str(copy), "--workspace", "Acme", "--name", app.name)
    assert snapshot(App.objects.get(pk=again.strip())) == snapshot(app)


def test_warnings_go_to_stderr(acme):
    out, err = run("import_dsl", str(FIXTURES / "workflow_full.yml"), "--workspace", "Acme")
    assert out.strip() == str(App.objects.get().id)
    assert "warning: the engine cannot run node type(s) knowledge-retrieval;" in err


def test_name_option_overrides_the_file(acme):
    out, _ = run(
        "import_dsl", str(FIXTURES / "chat_full.yml"), "--workspace", "Acme", "--name", "Helpdesk"
    )
    assert App.objects.get(pk=out.strip()).name == "Helpdesk"


@pytest.mark.parametrize(("filename", "fragment"), BROKEN, ids=[b[0] for b in BROKEN])
def test_import_of_a_broken_file_is_a_clear_command_error(acme, filename, fragment):
    with pytest.raises(CommandError) as caught:
        run("import_dsl", str(FIXTURES / "broken" / filename), "--workspace", str(acme.id))
    assert fragment in str(caught.value)
    assert filename in str(caught.value)
    assert not App.objects.exists()


def test_workspace_lookup_errors(acme, tmp_path):
    file = str(FIXTURES / "chat_full.yml")
    with pytest.raises(CommandError, match="no workspace named 'Nope'"):
        run("import_dsl", file, "--workspace", "Nope")
    with pytest.raises(CommandError, match="no workspace with id 00000000-0000"):
        run("import_dsl", file, "--workspace", "00000000-0000-0000-0000-000000000000")
    Workspace.objects.create(name="Acme")
    with pytest.raises(CommandError, match="several workspaces are named 'Acme'"):
        run("import_dsl", file, "--workspace", "Acme")
    with pytest.raises(CommandError, match="cannot read"):
        run("import_dsl", str(tmp_path / "missing.yml"), "--workspace", str(acme.id))
    assert not App.objects.exists()


def test_export_errors(acme):
    with pytest.raises(CommandError, match="app not found: not-a-uuid"):
        run("export_dsl", "not-a-uuid")
    with pytest.raises(CommandError, match="app not found: 00000000-0000"):
        run("export_dsl", "00000000-0000-0000-0000-000000000000")
    out, _ = run("import_dsl", str(FIXTURES / "workflow_full.yml"), "--workspace", "Acme")
    other, _ = run("import_dsl", str(FIXTURES / "advanced_chat_full.yml"), "--workspace", "Acme")
    foreign = App.objects.get(pk=other.strip()).published_workflow
    assert foreign is not None
    with pytest.raises(CommandError, match="workflow version not found for this app"):
        run("export_dsl", out.strip(), "--workflow-id", str(foreign.id))


def test_export_of_a_chosen_version_and_secrets(acme):
    doc = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    doc["workflow"]["environment_variables"][1]["value"] = "sk-live"
    app = app_import_dsl(actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)).app
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    draft.features = {"opening_statement": "draft"}
    draft.save()
    assert app.published_workflow is not None
    published, _ = run("export_dsl", str(app.id), "--workflow-id", str(app.published_workflow.id))
    assert yaml.safe_load(published)["workflow"]["features"] == doc["workflow"]["features"]
    default, _ = run("export_dsl", str(app.id))
    assert yaml.safe_load(default)["workflow"]["features"] == {"opening_statement": "draft"}
    assert "sk-live" not in default
    with_secrets, _ = run("export_dsl", str(app.id), "--include-secrets")
    assert "sk-live" in with_secrets


def test_manage_py_exits_1_without_a_traceback(tmp_path):
    """The real process: exit status 1 and a one-line error, for a file that fails validation."""
    env = {**os.environ, "TESTING": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_dsl",
            str(FIXTURES / "broken" / "workflow_no_path_to_end.yml"),
            "--workspace",
            "Acme",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "no path from the start node to an end node" in result.stderr
    assert result.stdout == ""


def test_export_of_an_undecryptable_secret_is_a_clean_error(acme, settings):
    from cryptography.fernet import Fernet

    from apps_runtime import services

    doc = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    doc["workflow"]["environment_variables"][1]["value"] = "enc:v1:looks-sealed-but-is-plain"
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app
    # A value that merely looks sealed was still encrypted on import, so it round-trips.
    out, _ = run("export_dsl", str(app.id), "--include-secrets")
    assert "enc:v1:looks-sealed-but-is-plain" in out
    settings.SECRETS_ENCRYPTION_KEY = Fernet.generate_key().decode()  # the key was rotated
    with pytest.raises(CommandError, match="cannot export secrets"):
        run("export_dsl", str(app.id), "--include-secrets")
