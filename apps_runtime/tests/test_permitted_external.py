"""``GET /openapi/v1/permitted-external-apps`` and its describe (contract §5.20, client §4.9)."""

from __future__ import annotations

import uuid

import pytest

from apps_runtime.models import App, AppMode
from apps_runtime.tests.factories import (
    AppFactory,
    WorkspaceFactory,
    make_workflow_app,
    start_variable,
)
from conftest import assert_envelope

URL = "/openapi/v1/permitted-external-apps"
PUBLIC = App.AccessMode.PUBLIC
SSO = App.AccessMode.SSO_VERIFIED


@pytest.fixture
def client(api, sso_token):
    return api(sso_token)


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


def test_lists_public_and_sso_verified_apps_of_every_workspace(client, acme, alice):
    other = WorkspaceFactory(name="Globex")
    public = AppFactory(workspace=acme, access_mode=PUBLIC, author=alice, tags=["prod"])
    sso = AppFactory(workspace=other, access_mode=SSO)
    AppFactory(workspace=acme, access_mode=App.AccessMode.PRIVATE_ALL)
    AppFactory(workspace=acme, access_mode=App.AccessMode.PRIVATE)
    AppFactory(workspace=acme, access_mode=PUBLIC, enable_api=False)
    AppFactory(workspace=other, access_mode=SSO, status=App.Status.ARCHIVED)
    response = client.get(URL)
    body = response.json()
    assert ids(response) == [str(sso.id), str(public.id)]
    assert (body["page"], body["limit"], body["total"], body["has_more"]) == (1, 20, 2, False)
    public.refresh_from_db()
    assert body["data"][1] == {
        "id": str(public.id),
        "name": public.name,
        "description": public.description,
        "mode": "chat",
        "tags": [],
        "updated_at": public.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created_by_name": None,
        "workspace_id": str(acme.id),
        "workspace_name": "Acme",
    }
    assert body["data"][0]["workspace_name"] == "Globex"


def test_apps_of_an_archived_workspace_are_not_permitted(client, acme):
    from workspaces.models import Workspace

    closed = WorkspaceFactory(name="Closed")
    hidden = AppFactory(workspace=closed, access_mode=PUBLIC)
    shown = AppFactory(workspace=acme, access_mode=PUBLIC)
    Workspace.objects.filter(pk=closed.pk).update(status=Workspace.Status.ARCHIVE)
    assert ids(client.get(URL)) == [str(shown.id)]
    assert_envelope(client.get(f"{URL}/{hidden.id}"), 404, message="app not found")


def test_empty(client, db):
    assert client.get(URL).json() == {
        "page": 1,
        "limit": 20,
        "total": 0,
        "has_more": False,
        "data": [],
    }


def test_paging_and_order(client, acme):
    apps = [AppFactory(workspace=acme, access_mode=PUBLIC) for _ in range(5)]
    newest_first = [str(a.id) for a in reversed(apps)]
    pages = [client.get(URL, {"page": p, "limit": 2}).json() for p in (1, 2, 3)]
    assert [[r["id"] for r in p["data"]] for p in pages] == [
        newest_first[:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert [p["has_more"] for p in pages] == [True, True, False]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "abc"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "201"),
        ("limit", "abc"),
        ("mode", "bogus"),
        ("name", "n" * 201),
    ],
)
def test_bad_values_are_422(client, db, param, value):
    body = assert_envelope(client.get(URL, {param: value}), 422, code="invalid_param")
    assert body["message"].startswith(f"{param}:")


@pytest.mark.parametrize("param", ["workspace_id", "tag", "colour"])
def test_query_is_strict(client, acme, param):
    value = str(acme.id) if param == "workspace_id" else "x"
    body = assert_envelope(client.get(URL, {param: value}), 422, code="invalid_param")
    assert body["details"][0]["loc"] == [param]


def test_mode_and_name_filters(client, acme):
    chat = AppFactory(workspace=acme, access_mode=PUBLIC, mode=AppMode.CHAT, name="Support Bot")
    flow = AppFactory(workspace=acme, access_mode=SSO, mode=AppMode.WORKFLOW, name="Support Flow")
    AppFactory(workspace=acme, access_mode=App.AccessMode.PRIVATE, name="Support Secret")
    assert ids(client.get(URL, {"mode": "workflow"})) == [str(flow.id)]
    assert ids(client.get(URL, {"name": "SUPPORT"})) == [str(flow.id), str(chat.id)]
    assert ids(client.get(URL, {"name": "support", "mode": "chat"})) == [str(chat.id)]
    assert ids(client.get(URL, {"name": "secret"})) == []


def test_name_that_is_a_uuid(client, acme):
    app = AppFactory(workspace=acme, access_mode=PUBLIC)
    private = AppFactory(workspace=acme)
    found = client.get(URL, {"name": str(app.id)}).json()
    assert [r["id"] for r in found["data"]] == [str(app.id)] and found["total"] == 1
    assert ids(client.get(URL, {"name": str(private.id)})) == []


def test_account_subject_is_wrong_surface(alice, api, token_for):
    response = api(token_for(alice)).get(URL)
    assert_envelope(response, 403, message="wrong_surface (canonical: /openapi/v1/apps)")


def test_without_token_is_401(api, db):
    assert_envelope(api().get(URL), 401)


# -- describe ----------------------------------------------------------------------------------


@pytest.fixture
def public_workflow(acme, alice):
    return make_workflow_app(
        acme,
        name="Public Flow",
        access_mode=PUBLIC,
        author=alice,
        tags=["internal-tag"],
        variables=[start_variable("x", required=True, max_length=5)],
    )


@pytest.mark.parametrize("suffix", ["", "/describe"])
def test_describe_a_permitted_app(client, public_workflow, suffix):
    response = client.get(f"{URL}/{public_workflow.id}{suffix}")
    assert response.status_code == 200
    body = response.json()
    assert body["info"]["id"] == str(public_workflow.id)
    assert body["info"]["name"] == "Public Flow"
    assert body["info"]["tags"] == [] and body["info"]["author"] is None
    assert body["info"]["service_api_enabled"] is True
    assert body["parameters"]["user_input_form"][0]["text-input"]["variable"] == "x"
    assert body["input_schema"]["properties"]["inputs"]["required"] == ["x"]


def test_describe_fields(client, public_workflow):
    body = client.get(f"{URL}/{public_workflow.id}", {"fields": "input_schema"}).json()
    assert body["info"] is None and body["parameters"] is None
    assert body["input_schema"] is not None
    assert (
        "unknown field(s): ["
        in assert_envelope(client.get(f"{URL}/{public_workflow.id}", {"fields": "info,nope"}), 422)[
            "message"
        ]
    )


@pytest.mark.parametrize("param", ["workspace_id", "fields[]"])
def test_describe_query_is_strict(client, public_workflow, acme, param):
    response = client.get(f"{URL}/{public_workflow.id}", {param: str(acme.id)})
    assert_envelope(response, 422, code="invalid_param")


@pytest.mark.parametrize(
    "kind", ["private_all", "private", "service_off", "archived", "unknown", "malformed", "name"]
)
def test_describe_not_permitted_is_404(client, acme, kind):
    target = {
        "private_all": lambda: AppFactory(workspace=acme).id,
        "private": lambda: AppFactory(workspace=acme, access_mode=App.AccessMode.PRIVATE).id,
        "service_off": lambda: AppFactory(workspace=acme, access_mode=PUBLIC, enable_api=False).id,
        "archived": lambda: (
            AppFactory(workspace=acme, access_mode=SSO, status=App.Status.ARCHIVED).id
        ),
        "unknown": lambda: uuid.uuid4(),
        "malformed": lambda: "not-a-uuid",
        "name": lambda: AppFactory(workspace=acme, access_mode=PUBLIC, name="Named").name,
    }[kind]()
    for suffix in ("", "/describe"):
        assert_envelope(client.get(f"{URL}/{target}{suffix}"), 404, message="app not found")


def test_describe_by_account_is_wrong_surface(alice, api, token_for, public_workflow):
    response = api(token_for(alice)).get(f"{URL}/{public_workflow.id}")
    assert_envelope(response, 403, message="wrong_surface (canonical: /openapi/v1/apps)")
