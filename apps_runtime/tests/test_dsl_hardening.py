"""Hostile DSL files get a named DslError everywhere a DSL is imported (issue 8 §1, §5).

The same files go through the parser, ``manage.py import_dsl``, the admin upload and the service
that every import path (the API's included) calls: never a 500, never a traceback, never an app.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.audit import Actor
from accounts.models import Account
from apps_runtime.dsl import DslError, dsl_parse
from apps_runtime.models import App
from apps_runtime.services import app_import_dsl

IMPORT_URL = "/admin/apps_runtime/app/import-dsl/"
EXPANDED_LIMIT = 64 * 1024


def chat_app(model_config: str, *, prelude: str = "") -> str:
    return f"{prelude}app: {{name: Hostile, mode: chat}}\nmodel_config: {model_config}\n"


HOSTILE = {
    "month-13": (chat_app("{created: 2024-13-01}"), "month must be in 1..12"),
    "day-32": (chat_app("{created: 2024-01-32}"), "day is out of range"),
    "hour-25": (chat_app("{at: 2024-01-01 25:00:00}"), "hour must be in 0..23"),
    "tz-out-of-range": (chat_app("{at: 2024-01-01T00:00:00+99:00}"), "line 2"),
    "int-past-digit-limit": (chat_app("{n: " + "7" * 5000 + "}"), "line 2"),
    "hex-past-digit-limit": (chat_app("{n: 0x" + "f" * 20000 + "}"), "more than 4300 digits"),
    "tagged-int": (chat_app('{n: !!int "twelve"}'), "invalid value"),
    "tagged-float": (chat_app('{n: !!float "lots"}'), "invalid value"),
    "tagged-timestamp": (chat_app('{n: !!timestamp "2024-02-30"}'), "invalid value"),
    "bad-binary": (chat_app('{n: !!binary "@@@"}'), "model_config.n"),
    "python-tag": (chat_app("{n: !!python/object:os.system {}}"), "invalid YAML"),
}


def amplified(copies: int, *, levels: int = 2) -> str:
    """~1 KB that YAML aliases turn into about ``1 KiB * copies ** levels``."""
    lines = ['a0: &a0 "' + "x" * 1024 + '"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * copies)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return chat_app(f"{{bomb: *a{levels}}}", prelude="\n".join(lines) + "\n")


@pytest.fixture
def low_expansion_limit(settings):
    settings.MAX_DSL_EXPANDED_BYTES = EXPANDED_LIMIT


@pytest.fixture
def admin_client(db) -> Client:
    root = Account.objects.create_superuser("root@example.com", "pw-123456789", name="Root")
    client = Client()
    client.force_login(root)
    return client


def _all_paths_refuse(text: str, fragment: str, workspace, admin_client, tmp_path) -> None:
    with pytest.raises(DslError) as parsed:
        dsl_parse(text)
    assert fragment in parsed.value.message

    with pytest.raises(DslError) as service:
        app_import_dsl(workspace=workspace, yaml_text=text, actor=Actor.operator("test"))
    assert fragment in service.value.message

    path = tmp_path / "hostile.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as command:
        call_command(
            "import_dsl", str(path), "--workspace", str(workspace.id), stdout=io.StringIO()
        )
    assert fragment in str(command.value)

    upload = SimpleUploadedFile("hostile.yml", text.encode(), content_type="application/x-yaml")
    response = admin_client.post(IMPORT_URL, {"file": upload, "workspace": str(workspace.id)})
    assert response.status_code == 200
    assert fragment in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert not App.objects.exists()


@pytest.mark.parametrize(("text", "fragment"), HOSTILE.values(), ids=list(HOSTILE))
def test_values_the_yaml_loader_rejects_are_named_errors(
    text, fragment, acme, admin_client, tmp_path
):
    _all_paths_refuse(text, fragment, acme, admin_client, tmp_path)


def test_a_bad_value_names_its_line(db):
    with pytest.raises(DslError) as caught:
        dsl_parse(chat_app("{created: 2024-13-01}"))
    assert caught.value.message.startswith("invalid value '2024-13-01' (line 2, column ")


@pytest.mark.usefixtures("low_expansion_limit")
def test_an_alias_amplified_file_is_refused_by_its_expanded_bytes(acme, admin_client, tmp_path):
    text = amplified(16)  # ~1.3 KB of file, ~256 KiB (4x the limit) once expanded
    assert len(text) < EXPANDED_LIMIT // 32
    _all_paths_refuse(
        text,
        f"expands to more than {EXPANDED_LIMIT} bytes (MAX_DSL_EXPANDED_BYTES",
        acme,
        admin_client,
        tmp_path,
    )


@pytest.mark.usefixtures("low_expansion_limit")
def test_aliases_within_the_expanded_limit_import(acme, api, alice, token_for):
    text = amplified(6, levels=1) + ""  # ~6 KiB expanded twice over (the anchor and its use)
    app = app_import_dsl(workspace=acme, yaml_text=text, actor=Actor.operator("test")).app
    app.enable_api = True
    app.save()
    response = api(token_for(alice)).get(f"/openapi/v1/apps/{app.id}/describe")
    assert response.status_code == 200, response.content[:300]
    assert len(response.content) < EXPANDED_LIMIT


def test_a_file_over_the_dsl_byte_limit_is_refused(settings):
    settings.MAX_DSL_BYTES = 4096
    with pytest.raises(DslError, match=r"larger than 4096 bytes \(MAX_DSL_BYTES\)"):
        dsl_parse(b"#" * 4097)
