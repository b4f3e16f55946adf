"""``GET /openapi/v1/apps/{app_id}/export`` and ``…/dsl`` (client.md §4.15, issue 12 item 2)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from accounts.models import AuditEvent
from apps_runtime import services
from apps_runtime.dsl import app_export_dsl
from apps_runtime.models import App, WorkflowVersion
from apps_runtime.tests.factories import make_prompt_app
from apps_runtime.tests.test_dsl_import import TEST_ACTOR
from conftest import assert_envelope
from workspaces.models import Membership

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"
PATHS = ("export", "dsl")


@pytest.fixture
def secret_app(acme, alice):
    doc = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    doc["workflow"]["environment_variables"][1]["value"] = "sk-very-secret"
    return services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc), author=alice
    ).app


@pytest.fixture
def member_client(acme, make_account, api, token_for):
    def make(role: str):
        account = make_account(f"{role}-{uuid.uuid4().hex[:6]}@example.com")
        Membership.objects.create(workspace=acme, account=account, role=role)
        return api(token_for(account))

    return make


def secret_value(text: str) -> str:
    variables = yaml.safe_load(text)["workflow"]["environment_variables"]
    return next(v["value"] for v in variables if v["name"] == "API_KEY")


@pytest.mark.parametrize("path", PATHS)
def test_an_editor_exports_the_dsl_without_secrets(path, secret_app, member_client):
    response = member_client("editor").get(f"/openapi/v1/apps/{secret_app.id}/{path}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["data"]
    assert body["data"] == app_export_dsl(secret_app)
    assert secret_value(body["data"]) == ""
    assert "sk-very-secret" not in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("admin", 200), ("editor", 403)],
)
def test_include_secret_is_for_owner_and_admin(role, status, secret_app, member_client):
    response = member_client(role).get(
        f"/openapi/v1/apps/{secret_app.id}/export", {"include_secret": "true"}
    )
    if status == 200:
        assert response.status_code == 200
        assert secret_value(response.json()["data"]) == "sk-very-secret"
    else:
        body = assert_envelope(response, 403, code="forbidden")
        assert "owner or admin" in body["message"]
        assert "sk-very-secret" not in response.content.decode()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", [{}, {"include_secret": "true"}, {"include_secret": "false"}])
def test_a_normal_member_cannot_export(path, query, secret_app, member_client):
    """As Dify: the DSL (prompts, graph, settings) is for editors, admins and the owner."""
    response = member_client("normal").get(f"/openapi/v1/apps/{secret_app.id}/{path}", query)
    body = assert_envelope(response, 403, code="no_permission")
    assert "editors" in body["message"]
    assert "workflow" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="app.exported").exists()


def test_include_secret_false_spellings(secret_app, alice, api, token_for):
    client = api(token_for(alice))
    for value in ("false", "0", "False"):
        response = client.get(f"/openapi/v1/apps/{secret_app.id}/dsl", {"include_secret": value})
        assert secret_value(response.json()["data"]) == ""
    response = client.get(f"/openapi/v1/apps/{secret_app.id}/dsl", {"include_secret": "maybe"})
    assert_envelope(response, 422, code="invalid_param")


def test_workflow_id_selects_a_version(secret_app, alice, api, token_for):
    published = secret_app.published_workflow
    draft = WorkflowVersion.objects.get(app=secret_app, version=WorkflowVersion.DRAFT)
    draft.graph = {**draft.graph, "viewport": {"x": 5, "y": 6, "zoom": 2}}
    draft.save()
    client = api(token_for(alice))
    default = yaml.safe_load(client.get(f"/openapi/v1/apps/{secret_app.id}/dsl").json()["data"])
    chosen = yaml.safe_load(
        client.get(
            f"/openapi/v1/apps/{secret_app.id}/dsl", {"workflow_id": str(published.id)}
        ).json()["data"]
    )
    assert default["workflow"]["graph"]["viewport"] == {"x": 5, "y": 6, "zoom": 2}
    assert chosen["workflow"]["graph"] == published.graph


def test_workflow_id_malformed_422_unknown_or_foreign_404(secret_app, acme, alice, api, token_for):
    other = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=app_export_dsl(secret_app), name="other"
    ).app
    client = api(token_for(alice))
    url = f"/openapi/v1/apps/{secret_app.id}/export"
    body = assert_envelope(
        client.get(url, {"workflow_id": "not-a-uuid"}), 422, code="invalid_param"
    )
    assert body["details"][0]["loc"] == ["workflow_id"]
    assert_envelope(client.get(url, {"workflow_id": str(uuid.uuid4())}), 404)
    foreign = other.published_workflow.id
    body = assert_envelope(client.get(url, {"workflow_id": str(foreign)}), 404)
    assert body["message"] == "workflow not found"


def test_workflow_id_on_a_prompt_app_is_404(acme, alice, api, token_for):
    app = make_prompt_app(acme)
    response = api(token_for(alice)).get(
        f"/openapi/v1/apps/{app.id}/export", {"workflow_id": str(uuid.uuid4())}
    )
    assert_envelope(response, 404)


def test_prompt_app_export(acme, alice, api, token_for):
    app = make_prompt_app(acme, name="Bot")
    response = api(token_for(alice)).get(f"/openapi/v1/apps/{app.id}/dsl")
    doc = yaml.safe_load(response.json()["data"])
    assert doc["app"]["name"] == "Bot" and doc["model_config"]["pre_prompt"] == "You are helpful."


def test_service_api_off_still_exports_archived_does_not(acme, alice, api, token_for):
    client = api(token_for(alice))
    off = make_prompt_app(acme, enable_api=False)
    archived = make_prompt_app(acme, status=App.Status.ARCHIVED)
    assert client.get(f"/openapi/v1/apps/{off.id}/export").status_code == 200
    assert_envelope(client.get(f"/openapi/v1/apps/{archived.id}/export"), 404)


@pytest.mark.parametrize("path", PATHS)
def test_outsider_malformed_and_unknown_are_404(path, secret_app, charlie, api, token_for):
    client = api(token_for(charlie))
    for app_id in (str(secret_app.id), str(uuid.uuid4()), "not-a-uuid", "%00"):
        body = assert_envelope(client.get(f"/openapi/v1/apps/{app_id}/{path}"), 404)
        assert body["message"] == "app not found"
    body = assert_envelope(
        client.get(f"/openapi/v1/apps/{secret_app.id}/{path}", {"include_secret": "true"}), 404
    )


def test_external_sso_and_anonymous(secret_app, api, sso_token):
    assert_envelope(api(sso_token).get(f"/openapi/v1/apps/{secret_app.id}/export"), 403)
    assert_envelope(api().get(f"/openapi/v1/apps/{secret_app.id}/export"), 401)


def test_export_is_audited(secret_app, alice, api, token_for):
    api(token_for(alice)).get(
        f"/openapi/v1/apps/{secret_app.id}/export", {"include_secret": "true"}
    )
    event = AuditEvent.objects.get(action="app.exported")
    assert event.account == alice and event.actor_email == alice.email
    assert event.details["app_id"] == str(secret_app.id)
    assert event.details["include_secret"] is True
    assert "sk-very-secret" not in str(event.details)
