import uuid

import pytest

from conftest import assert_envelope
from workspaces.models import Membership, Workspace

LIST = "/openapi/v1/workspaces"


def test_list_shows_every_membership_in_creation_order(api, alice, acme, token_for):
    archived = Workspace.objects.create(name="Old", status=Workspace.Status.ARCHIVE)
    Membership.objects.create(workspace=archived, account=alice, role="editor")
    body = api(token_for(alice)).get(LIST).json()
    assert body["workspaces"] == body["data"]
    assert body["page"] == 1 and body["total"] == 2 and body["limit"] == 2
    assert body["has_more"] is False
    assert body["workspaces"] == [
        {"id": str(acme.id), "name": "Acme", "role": "owner", "status": "normal", "current": True},
        {
            "id": str(archived.id),
            "name": "Old",
            "role": "editor",
            "status": "archive",
            "current": False,
        },
    ]


def test_list_takes_no_query_parameters(api, alice, token_for):
    assert_envelope(api(token_for(alice)).get(LIST, {"page": 1}), 422, code="invalid_param")


def test_list_does_not_show_other_workspaces(api, bob, charlie, token_for):
    names = [w["name"] for w in api(token_for(bob)).get(LIST).json()["workspaces"]]
    assert names == ["Acme"]


def test_detail_for_owner_and_member(api, alice, bob, acme, token_for):
    for account, role in ((alice, "owner"), (bob, "normal")):
        body = api(token_for(account)).get(f"{LIST}/{acme.id}").json()
        assert body["id"] == str(acme.id) and body["role"] == role
        assert body["status"] == "normal"
        assert body["created_at"].endswith("Z")
        assert set(body) == {"id", "name", "role", "status", "current", "created_at"}


def test_detail_of_archived_workspace(api, alice, token_for):
    archived = Workspace.objects.create(name="Old", status=Workspace.Status.ARCHIVE)
    Membership.objects.create(workspace=archived, account=alice, role="admin")
    assert api(token_for(alice)).get(f"{LIST}/{archived.id}").json()["status"] == "archive"


@pytest.mark.parametrize("workspace_id", ["nope", "123", str(uuid.uuid4())])
def test_detail_unknown_or_malformed_is_404(api, alice, token_for, workspace_id):
    assert_envelope(
        api(token_for(alice)).get(f"{LIST}/{workspace_id}"), 404, message="workspace not found"
    )


def test_outsider_gets_404(api, charlie, acme, token_for):
    assert_envelope(
        api(token_for(charlie)).get(f"{LIST}/{acme.id}"), 404, message="workspace not found"
    )
    assert_envelope(api(token_for(charlie)).post(f"{LIST}/{acme.id}/switch"), 404)


def test_removed_member_loses_access_on_next_request(api, bob, acme, token_for):
    token = token_for(bob)
    assert api(token).get(f"{LIST}/{acme.id}").status_code == 200
    Membership.objects.filter(account=bob, workspace=acme).delete()
    assert_envelope(api(token).get(f"{LIST}/{acme.id}"), 404)
    assert api(token).get(LIST).json()["workspaces"] == []


@pytest.mark.parametrize("suffix", ["/switch", ":switch"])
def test_switch_makes_workspace_current(api, alice, acme, token_for, suffix):
    other = Workspace.objects.create(name="Second")
    Membership.objects.create(workspace=other, account=alice, role="admin")
    client = api(token_for(alice))
    response = client.post(f"{LIST}/{other.id}{suffix}")
    assert response.status_code == 200
    assert response.json()["id"] == str(other.id) and response.json()["current"] is True
    current = {w["name"]: w["current"] for w in client.get(LIST).json()["workspaces"]}
    assert current == {"Acme": False, "Second": True}
    assert client.get("/openapi/v1/account").json()["default_workspace_id"] == str(other.id)


def test_member_can_switch(api, bob, acme, token_for):
    client = api(token_for(bob))
    body = client.post(f"{LIST}/{acme.id}/switch").json()
    assert body["role"] == "normal" and body["current"] is True
    assert client.get("/openapi/v1/account").json()["default_workspace_id"] == str(acme.id)


def test_cannot_switch_into_an_archived_workspace(api, alice, acme, token_for):
    archived = Workspace.objects.create(name="Old", status=Workspace.Status.ARCHIVE)
    Membership.objects.create(workspace=archived, account=alice, role="owner")
    client = api(token_for(alice))
    body = assert_envelope(
        client.post(f"{LIST}/{archived.id}:switch"), 404, message="workspace not found"
    )
    assert body["hint"] == "the workspace is archived"
    assert client.get("/openapi/v1/account").json()["default_workspace_id"] == str(acme.id)


def test_switch_malformed_id_is_404(api, alice, token_for):
    assert_envelope(api(token_for(alice)).post(f"{LIST}/not-a-uuid:switch"), 404)


def test_external_subject_cannot_switch(api, sso_token, acme):
    assert_envelope(api(sso_token).post(f"{LIST}/{acme.id}/switch"), 403)


def test_switch_with_a_colon_inside_the_id_is_404(api, alice, token_for):
    assert_envelope(api(token_for(alice)).post(f"{LIST}/a:b:switch"), 404)
