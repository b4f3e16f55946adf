"""DSL import over the API (client.md §4.15, issue 12 item 4): the Import shape, pending and
confirm, overwrite, who may import, yaml-url and its refusals, and the dependency check."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from accounts.models import AuditEvent
from apps_runtime.demo import DEMO_APPS_DIR
from apps_runtime.dsl.constants import CURRENT_DSL_VERSION
from apps_runtime.models import App, AppImport, WorkflowVersion
from apps_runtime.tests.factories import make_prompt_app
from apps_runtime.tests.test_dsl_import import snapshot
from apps_runtime.transfer.imports import import_pending_expire
from config.housekeeping import run_once
from conftest import assert_envelope
from tests.drip import dripping_server
from workspaces.models import Membership

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"
DEMO_FILES = sorted(DEMO_APPS_DIR.glob("*.yml"))
WORKFLOW = (FIXTURES / "workflow_full.yml").read_text(encoding="utf-8")


def imports_url(workspace) -> str:
    return f"/openapi/v1/workspaces/{workspace.id}/apps/imports"


@pytest.fixture
def owner(alice, api, token_for):
    return api(token_for(alice))


@pytest.fixture
def member_client(acme, make_account, api, token_for):
    def make(role: str):
        account = make_account(f"{role}-{uuid.uuid4().hex[:6]}@example.com")
        Membership.objects.create(workspace=acme, account=account, role=role)
        return api(token_for(account))

    return make


def post_yaml(client, workspace, text: str, **fields):
    return client.post(
        imports_url(workspace),
        {"mode": "yaml-content", "yaml_content": text, **fields},
        format="json",
    )


def with_version(text: str, version: str) -> str:
    doc = yaml.safe_load(text)
    doc["version"] = version
    return yaml.safe_dump(doc)


# -- success shape and the round trip ----------------------------------------------------------


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.name)
def test_export_import_round_trip_of_every_demo_app(path, acme, alice, owner):
    original = post_yaml(owner, acme, path.read_text(encoding="utf-8")).json()
    assert original["status"] == "completed", original
    exported = owner.get(f"/openapi/v1/apps/{original['app_id']}/export").json()["data"]
    copy = post_yaml(owner, acme, exported)
    assert copy.status_code == 200
    body = copy.json()
    assert body["status"] == "completed" and body["app_id"] != original["app_id"]
    assert snapshot(App.objects.get(pk=body["app_id"])) == snapshot(
        App.objects.get(pk=original["app_id"])
    )
    assert owner.get(f"/openapi/v1/apps/{body['app_id']}/export").json()["data"] == exported


def test_import_shape(acme, alice, owner):
    response = post_yaml(owner, acme, WORKFLOW)
    assert response.status_code == 200
    body = response.json()
    app = App.objects.get(pk=body["app_id"])
    assert body == {
        "id": body["id"],
        "status": "completed-with-warnings",
        "app_id": str(app.id),
        "app_mode": "workflow",
        "current_dsl_version": CURRENT_DSL_VERSION,
        "imported_dsl_version": "0.6.0",
        "error": "",
        "warnings": body["warnings"],
    }
    assert any("cannot run node type" in w for w in body["warnings"])
    assert app.author == alice and app.workspace == acme
    record = AppImport.objects.get(pk=body["id"])
    assert (record.status, record.app, record.yaml_content) == (
        "completed-with-warnings",
        app,
        "",
    )
    event = AuditEvent.objects.get(action="app.imported")
    assert event.actor_email == alice.email and event.details["app_id"] == str(app.id)


def test_name_description_and_icon_fields(acme, owner):
    body = post_yaml(
        owner,
        acme,
        (DEMO_APPS_DIR / "echo_chat.yml").read_text(encoding="utf-8"),
        name="Copy of Echo",
        description="imported copy",
        icon_type="emoji",
        icon="🤖",
        icon_background="#000000",
    ).json()
    app = App.objects.get(pk=body["app_id"])
    assert (app.name, app.description, app.icon, app.icon_background) == (
        "Copy of Echo",
        "imported copy",
        "🤖",
        "#000000",
    )


def test_older_minor_version_completes_with_warnings(acme, owner):
    body = post_yaml(owner, acme, with_version(WORKFLOW, "0.5.0")).json()
    assert body["status"] == "completed-with-warnings"
    assert any("older" in w for w in body["warnings"])


# -- failed ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("app: [unclosed", "invalid YAML"),
        ("kind: app\nversion: '0.6.0'\n", "missing the app block"),
        ("app: {name: x, mode: nope}\n", "unknown app.mode"),
        ("app: {name: x, mode: chat}\nversion: 0.6\nmodel_config: {}\n", "version"),
    ],
)
def test_a_bad_file_fails_with_400_and_leaves_nothing(text, needle, acme, owner):
    response = post_yaml(owner, acme, text)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failed" and body["app_id"] is None
    assert needle in body["error"] and body["message"] == body["error"]
    assert body["code"] == "dsl_import_failed"
    assert not App.objects.exists()
    assert AppImport.objects.get(pk=body["id"]).status == "failed"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "yaml-content"},
        {"mode": "yaml-url"},
        {"mode": "zip", "yaml_content": "x"},
        {"yaml_content": WORKFLOW},
        {"mode": "yaml-url", "yaml_url": "not a url"},
        {"mode": "yaml-content", "yaml_content": WORKFLOW, "app_id": "nope"},
    ],
)
def test_bad_requests_are_422(body, acme, owner):
    assert_envelope(owner.post(imports_url(acme), body, format="json"), 422)
    assert_envelope(owner.post(imports_url(acme), [WORKFLOW], format="json"), 422)
    assert not AppImport.objects.exists()


# -- who may import ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("admin", 200), ("editor", 200), ("normal", 403)]
)
def test_only_editors_and_above_import(role, status, acme, member_client):
    response = post_yaml(member_client(role), acme, WORKFLOW)
    assert response.status_code == status
    if status == 403:
        assert_envelope(response, 403, code="no_permission")
        assert not App.objects.exists()


def test_outsider_and_unknown_workspace_404(acme, charlie, owner, api, token_for):
    outsider = api(token_for(charlie))
    assert_envelope(post_yaml(outsider, acme, WORKFLOW), 404, message="workspace not found")
    for workspace_id in ("not-a-uuid", str(uuid.uuid4())):
        response = owner.post(
            f"/openapi/v1/workspaces/{workspace_id}/apps/imports",
            {"mode": "yaml-content", "yaml_content": WORKFLOW},
            format="json",
        )
        assert_envelope(response, 404)


def test_external_sso_is_wrong_surface(acme, api, sso_token):
    assert_envelope(post_yaml(api(sso_token), acme, WORKFLOW), 403)


# -- pending and confirm -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/confirm", ":confirm"])
def test_newer_version_is_pending_until_confirmed(suffix, acme, owner):
    newer = with_version(WORKFLOW, "0.99.0")
    response = post_yaml(owner, acme, newer, name="From the future")
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["app_id"], body["imported_dsl_version"]) == (
        "pending",
        None,
        "0.99.0",
    )
    assert not App.objects.exists()
    confirm_url = f"{imports_url(acme)}/{body['id']}{suffix}"
    confirmed = owner.post(confirm_url)
    assert confirmed.status_code == 200, confirmed.content
    done = confirmed.json()
    assert done["id"] == body["id"] and done["status"] == "completed-with-warnings"
    app = App.objects.get(pk=done["app_id"])
    assert app.name == "From the future"
    assert any("after confirmation" in w for w in done["warnings"])
    assert AppImport.objects.get(pk=body["id"]).yaml_content == ""
    assert_envelope(owner.post(confirm_url), 404, message="import not found")
    assert App.objects.count() == 1


def test_other_major_version_is_pending(acme, owner):
    assert post_yaml(owner, acme, with_version(WORKFLOW, "1.0.0")).status_code == 202


def test_confirm_is_for_the_importer_only(acme, owner, member_client, charlie, api, token_for):
    body = post_yaml(owner, acme, with_version(WORKFLOW, "0.99.0")).json()
    url = f"{imports_url(acme)}/{body['id']}/confirm"
    assert_envelope(member_client("admin").post(url), 404)
    assert_envelope(api(token_for(charlie)).post(url), 404)
    assert_envelope(owner.post(f"{imports_url(acme)}/not-a-uuid/confirm"), 404)
    assert_envelope(owner.post(f"{imports_url(acme)}/{uuid.uuid4()}/confirm"), 404)
    assert not App.objects.exists()
    assert owner.post(url).status_code == 200


def test_pending_import_expires(acme, owner, settings):
    body = post_yaml(owner, acme, with_version(WORKFLOW, "0.99.0")).json()
    record = AppImport.objects.get(pk=body["id"])
    assert record.expires_at == record.created_at + timedelta(
        seconds=settings.DSL_IMPORT_PENDING_SECONDS
    )
    AppImport.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_envelope(owner.post(f"{imports_url(acme)}/{body['id']}/confirm"), 404)
    assert import_pending_expire() == 1
    record.refresh_from_db()
    assert (record.status, record.yaml_content) == ("failed", "")
    assert "expired" in record.error


def test_housekeeping_runs_the_pending_expiry(acme, owner):
    post_yaml(owner, acme, with_version(WORKFLOW, "0.99.0"))
    AppImport.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert run_once()["expired pending DSL imports dropped"] == 1


def test_a_pending_file_that_is_broken_fails_on_confirm(acme, owner):
    broken = "version: '0.99.0'\napp: {name: x, mode: workflow}\n"
    body = post_yaml(owner, acme, broken).json()
    assert body["status"] == "pending"
    response = owner.post(f"{imports_url(acme)}/{body['id']}/confirm")
    assert response.status_code == 400
    assert response.json()["status"] == "failed" and "workflow" in response.json()["error"]
    assert not App.objects.exists()


# -- overwrite (app_id) ------------------------------------------------------------------------


def test_app_id_overwrites_the_draft_of_a_workflow_app(acme, owner):
    first = post_yaml(owner, acme, WORKFLOW).json()
    app = App.objects.get(pk=first["app_id"])
    published = app.published_workflow
    doc = yaml.safe_load(WORKFLOW)
    doc["app"]["description"] = "second edition"
    doc["workflow"]["graph"]["viewport"] = {"x": 1, "y": 2, "zoom": 3}
    body = post_yaml(owner, acme, yaml.safe_dump(doc), app_id=str(app.id)).json()
    assert body["app_id"] == str(app.id)
    app.refresh_from_db()
    assert app.description == "second edition"
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    assert draft.graph["viewport"] == {"x": 1, "y": 2, "zoom": 3}
    assert app.published_workflow == published
    assert App.objects.count() == 1
    assert AuditEvent.objects.filter(action="app.overwritten").count() == 1


def test_app_id_refusals(acme, owner, charlie):
    workflow = App.objects.get(pk=post_yaml(owner, acme, WORKFLOW).json()["app_id"])
    chat = make_prompt_app(acme)
    chat_text = (FIXTURES / "chat_full.yml").read_text(encoding="utf-8")
    advanced = (FIXTURES / "advanced_chat_full.yml").read_text(encoding="utf-8")
    foreign = make_prompt_app(charlie.memberships.get().workspace)
    cases = [
        (advanced, workflow.id, "mode mismatch"),
        (chat_text, chat.id, "only workflow and advanced-chat"),
        (WORKFLOW, uuid.uuid4(), "no app of this workspace"),
        (WORKFLOW, foreign.id, "no app of this workspace"),
    ]
    for text, app_id, needle in cases:
        response = post_yaml(owner, acme, text, app_id=str(app_id))
        assert response.status_code == 400
        assert needle in response.json()["error"]
    assert App.objects.count() == 3


# -- yaml-url ----------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def file_server() -> Iterator[tuple[int, dict]]:
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], routes
    server.shutdown()
    server.server_close()


def post_url(client, workspace, url: str):
    return client.post(imports_url(workspace), {"mode": "yaml-url", "yaml_url": url}, format="json")


def test_yaml_url_imports_from_an_allowed_host(acme, owner, file_server, settings):
    port, routes = file_server
    settings.HTTP_NODE_ALLOWED_HOSTS = ["localhost"]
    routes["/app.yml"] = (200, {"Content-Type": "text/yaml"}, WORKFLOW.encode())
    response = post_url(owner, acme, f"http://localhost:{port}/app.yml")
    assert response.status_code == 200, response.content
    record = AppImport.objects.get(pk=response.json()["id"])
    assert record.source == "yaml-url" and record.yaml_url.endswith("/app.yml")
    assert App.objects.get(pk=response.json()["app_id"]).mode == "workflow"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "10.1.2.3", "192.168.0.10", "169.254.169.254", "0x7f.1"],
)
def test_yaml_url_refuses_loopback_and_private_addresses(host, acme, owner, file_server):
    port, routes = file_server
    routes["/app.yml"] = (200, {}, WORKFLOW.encode())
    response = post_url(owner, acme, f"http://{host}:{port}/app.yml")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failed" and "not allowed" in body["error"]
    assert not App.objects.exists()


def test_yaml_url_refuses_a_redirect_to_a_private_address(acme, owner, file_server, settings):
    port, routes = file_server
    settings.HTTP_NODE_ALLOWED_HOSTS = ["localhost"]
    routes["/start.yml"] = (302, {"Location": f"http://127.0.0.1:{port}/app.yml"}, b"")
    routes["/app.yml"] = (200, {}, WORKFLOW.encode())
    response = post_url(owner, acme, f"http://localhost:{port}/start.yml")
    assert response.status_code == 400
    assert "not allowed" in response.json()["error"]
    assert not App.objects.exists()


def test_yaml_url_size_cap_and_errors(acme, owner, file_server, settings):
    port, routes = file_server
    settings.HTTP_NODE_ALLOWED_HOSTS = ["localhost"]
    settings.DSL_IMPORT_MAX_BYTES = 2048
    routes["/big.yml"] = (200, {}, WORKFLOW.encode())
    response = post_url(owner, acme, f"http://localhost:{port}/big.yml")
    assert response.status_code == 400 and "larger than 2048" in response.json()["error"]
    response = post_url(owner, acme, f"http://localhost:{port}/missing.yml")
    assert response.status_code == 400 and "404" in response.json()["error"]
    response = post_url(owner, acme, "ftp://example.com/app.yml")
    assert response.status_code in (400, 422)
    assert not App.objects.exists()


@pytest.mark.parametrize("drip_head", [False, True], ids=["body", "headers"])
def test_a_yaml_url_that_drips_is_a_failed_import_at_the_deadline(drip_head, acme, owner, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_DEADLINE_SECONDS = 0.5
    with dripping_server(drip_head=drip_head, every=0.2) as drip:
        started = time.monotonic()
        response = post_url(owner, acme, f"{drip.base}/app.yml")
        took = time.monotonic() - started
    assert took < 1.3
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "failed"
    assert "did not complete within 0.5 seconds" in body["error"]
    record = AppImport.objects.get(pk=body["id"])
    assert record.status == "failed" and record.source == "yaml-url"
    assert record.yaml_url == f"{drip.base}/app.yml"
    assert not App.objects.exists()


# -- dependency check --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/check-dependencies", "/dependencies:check"])
def test_check_dependencies(suffix, acme, owner, bob, api, token_for, charlie):
    doc = yaml.safe_load((FIXTURES / "advanced_chat_full.yml").read_text(encoding="utf-8"))
    tool = {
        "type": "marketplace",
        "value": {
            "marketplace_plugin_unique_identifier": "langgenius/google:0.0.9@abc",
            "version": None,
        },
        "current_identifier": None,
    }
    doc["dependencies"] = [*doc.get("dependencies", []), tool]
    app_id = post_yaml(owner, acme, yaml.safe_dump(doc)).json()["app_id"]
    url = f"/openapi/v1/apps/{app_id}{suffix}"
    response = owner.get(url)
    assert response.status_code == 200
    assert response.json() == {"leaked_dependencies": [tool]}
    # A ``normal`` member (bob) may not read it, as in Dify; an outsider does not see the app.
    body = assert_envelope(api(token_for(bob)).get(url), 403, code="no_permission")
    assert "langgenius" not in str(body)
    assert_envelope(api(token_for(charlie)).get(url), 404)
    assert_envelope(owner.get(f"/openapi/v1/apps/not-a-uuid{suffix}"), 404)


def test_check_dependencies_model_provider_is_satisfied(acme, owner):
    app_id = post_yaml(owner, acme, WORKFLOW).json()["app_id"]
    body = owner.get(f"/openapi/v1/apps/{app_id}/check-dependencies").json()
    assert body == {"leaked_dependencies": []}


# -- one service for the API, the command and the admin upload ------------------------------


def test_the_command_names_allow_newer_for_a_newer_file_only(acme, tmp_path):
    from django.core.management import CommandError, call_command

    newer = tmp_path / "newer.yml"
    newer.write_text(with_version(WORKFLOW, "0.99.0"), encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("import_dsl", str(newer), "--workspace", str(acme.id))
    assert "newer than the supported" in str(refused.value)
    assert "run the command again with --allow-newer" in str(refused.value)
    broken = tmp_path / "broken.yml"
    broken.write_text("kind: app\nversion: 0.99.0\napp: {mode: nope}\n", encoding="utf-8")
    with pytest.raises(CommandError) as other:
        call_command("import_dsl", str(broken), "--workspace", str(acme.id))
    assert "--allow-newer" not in str(other.value)


def test_command_and_admin_upload_record_imports_through_the_same_service(
    acme, superuser_client, tmp_path
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    path = tmp_path / "newer.yml"
    path.write_text(with_version(WORKFLOW, "0.99.0"), encoding="utf-8")
    out = io.StringIO()
    call_command("import_dsl", str(path), "--workspace", str(acme.id), "--allow-newer", stdout=out)
    by_command = AppImport.objects.get(app_id=out.getvalue().strip())
    assert by_command.status == "completed-with-warnings" and by_command.account is None
    assert AuditEvent.objects.filter(
        action="app.imported", actor_email="manage.py import_dsl"
    ).exists()

    superuser_client.post(
        "/admin/apps_runtime/app/import-dsl/",
        {
            "file": SimpleUploadedFile("a.yml", WORKFLOW.encode(), content_type="text/yaml"),
            "workspace": str(acme.id),
            "name": "Uploaded",
        },
    )
    by_admin = AppImport.objects.get(app__name="Uploaded")
    assert by_admin.status == "completed-with-warnings"
    assert by_admin.account is not None and by_admin.account.email == "root@example.com"
    refused = superuser_client.post(
        "/admin/apps_runtime/app/import-dsl/",
        {
            "file": SimpleUploadedFile("n.yml", path.read_bytes(), content_type="text/yaml"),
            "workspace": str(acme.id),
        },
    )
    assert b"newer than the supported" in refused.content
