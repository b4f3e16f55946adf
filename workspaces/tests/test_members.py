"""Workspace members over HTTP (client.md §4.15, issue 12 item 3): list, invite, set role, remove,
and the role rules table (owner, admin, editor, normal x each operation)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, AuditEvent
from conftest import TEST_PASSWORD, assert_envelope
from workspaces.members import invitation_digest
from workspaces.models import Invitation, Membership


def members_url(workspace) -> str:
    return f"/openapi/v1/workspaces/{workspace.id}/members"


def member_url(workspace, account) -> str:
    return f"{members_url(workspace)}/{account.id}"


@pytest.fixture
def cast(acme, alice, make_account):
    """One account per role in ``acme`` (alice is the owner) and a plain member to act on."""
    accounts = {"owner": alice}
    for role in ("admin", "editor", "normal"):
        account = make_account(f"{role}@example.com")
        Membership.objects.create(workspace=acme, account=account, role=role)
        accounts[role] = account
    target = make_account("target@example.com")
    Membership.objects.create(workspace=acme, account=target, role="normal")
    accounts["target"] = target
    return accounts


@pytest.fixture
def as_role(cast, api, token_for):
    return lambda role: api(token_for(cast[role]))


ROLES = ("owner", "admin", "editor", "normal")
MANAGERS = {"owner", "admin"}


# -- the role rules table ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_member_lists_members(role, acme, as_role, cast):
    response = as_role(role).get(members_url(acme))
    assert response.status_code == 200
    assert response.json()["total"] == 5


@pytest.mark.parametrize("role", ROLES)
def test_invite(role, acme, as_role):
    response = as_role(role).post(
        members_url(acme), {"email": "new@example.com", "role": "normal"}, format="json"
    )
    if role in MANAGERS:
        assert response.status_code == 201, response.content
    else:
        assert_envelope(response, 403, code="no_permission")
        assert not Account.objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("role", ROLES)
def test_set_role_of_a_member(role, method, acme, as_role, cast):
    url = member_url(acme, cast["target"]) + ("/role" if method == "put" else "")
    response = getattr(as_role(role), method)(url, {"role": "editor"}, format="json")
    stored = Membership.objects.get(workspace=acme, account=cast["target"]).role
    if role in MANAGERS:
        assert response.status_code == 200, response.content
        assert response.json() == {
            "result": "success",
            "member_id": str(cast["target"].id),
            "role": "editor",
        }
        assert stored == "editor"
    else:
        assert_envelope(response, 403, code="no_permission")
        assert stored == "normal"


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("owner", "cannot_operate_self"),
        ("admin", "cannot_operate_owner"),
        ("editor", "no_permission"),
        ("normal", "no_permission"),
    ],
)
def test_nobody_demotes_the_owner(role, code, acme, as_role, cast):
    for method, suffix in (("patch", ""), ("put", "/role")):
        response = getattr(as_role(role), method)(
            member_url(acme, cast["owner"]) + suffix, {"role": "admin"}, format="json"
        )
        assert_envelope(response, 403, code=code)
    assert Membership.objects.get(workspace=acme, account=cast["owner"]).role == "owner"


@pytest.mark.parametrize("role", ROLES)
def test_nobody_changes_their_own_role(role, acme, as_role, cast):
    response = as_role(role).patch(member_url(acme, cast[role]), {"role": "admin"}, format="json")
    expected = "no_permission" if role not in MANAGERS else "cannot_operate_self"
    assert_envelope(response, 403, code=expected)
    assert Membership.objects.get(workspace=acme, account=cast[role]).role == role


@pytest.mark.parametrize("role", ROLES)
def test_remove_a_member(role, acme, as_role, cast):
    response = as_role(role).delete(member_url(acme, cast["target"]))
    still = Membership.objects.filter(workspace=acme, account=cast["target"]).exists()
    if role in MANAGERS:
        assert response.status_code == 200
        assert response.json()["result"] == "success"
        assert not still
    else:
        assert_envelope(response, 403, code="no_permission")
        assert still


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("owner", "cannot_operate_self"),
        ("admin", "cannot_operate_owner"),
        ("editor", "no_permission"),
        ("normal", "no_permission"),
    ],
)
def test_nobody_removes_the_owner(role, code, acme, as_role, cast):
    assert_envelope(as_role(role).delete(member_url(acme, cast["owner"])), 403, code=code)
    assert Membership.objects.filter(workspace=acme, account=cast["owner"]).exists()


@pytest.mark.parametrize("role", ROLES)
def test_nobody_removes_themselves(role, acme, as_role, cast):
    expected = "cannot_operate_self" if role in MANAGERS else "no_permission"
    assert_envelope(as_role(role).delete(member_url(acme, cast[role])), 403, code=expected)
    assert Membership.objects.filter(workspace=acme, account=cast[role]).exists()


def test_an_admin_manages_another_admin(acme, as_role, cast, make_account):
    other = make_account("other-admin@example.com")
    Membership.objects.create(workspace=acme, account=other, role="admin")
    client = as_role("admin")
    assert (
        client.patch(member_url(acme, other), {"role": "normal"}, format="json").status_code == 200
    )
    assert client.delete(member_url(acme, other)).status_code == 200


# -- outsiders and ids ---------------------------------------------------------------------------


def test_outsider_gets_404_on_every_member_route(acme, cast, charlie, api, token_for):
    client = api(token_for(charlie))
    target = member_url(acme, cast["target"])
    calls = [
        client.get(members_url(acme)),
        client.post(members_url(acme), {"email": "x@example.com", "role": "normal"}, format="json"),
        client.patch(target, {"role": "admin"}, format="json"),
        client.put(target + "/role", {"role": "admin"}, format="json"),
        client.delete(target),
    ]
    for response in calls:
        body = assert_envelope(response, 404)
        assert body["message"] == "workspace not found"
    assert Membership.objects.get(workspace=acme, account=cast["target"]).role == "normal"


def test_malformed_and_unknown_ids_are_404(acme, as_role, charlie):
    client = as_role("owner")
    for workspace_id in ("not-a-uuid", str(uuid.uuid4())):
        assert_envelope(client.get(f"/openapi/v1/workspaces/{workspace_id}/members"), 404)
    for member_id in ("not-a-uuid", str(uuid.uuid4()), str(charlie.id)):
        response = client.delete(f"{members_url(acme)}/{member_id}")
        assert_envelope(response, 404, message="member not found")
        response = client.patch(
            f"{members_url(acme)}/{member_id}", {"role": "admin"}, format="json"
        )
        assert_envelope(response, 404)


def test_bad_bodies_are_422(acme, as_role, cast):
    client = as_role("owner")
    for body in (
        {"email": "new@example.com", "role": "owner"},
        {"email": "not-an-email", "role": "normal"},
        {"role": "normal"},
        ["new@example.com"],
    ):
        assert_envelope(client.post(members_url(acme), body, format="json"), 422)
    response = client.patch(member_url(acme, cast["target"]), {"role": "owner"}, format="json")
    assert_envelope(response, 422)
    assert not Account.objects.filter(email="new@example.com").exists()


def test_external_sso_is_wrong_surface(acme, api, sso_token):
    assert_envelope(api(sso_token).get(members_url(acme)), 403)


# -- list ------------------------------------------------------------------------------------------


def test_list_shape_and_paging(acme, as_role, cast):
    body = as_role("editor").get(members_url(acme), {"page": 1, "limit": 2}).json()
    assert (body["page"], body["limit"], body["total"], body["has_more"]) == (1, 2, 5, True)
    owner = body["data"][0]
    assert owner == {
        "id": str(cast["owner"].id),
        "name": "Alice",
        "email": "alice@example.com",
        "role": "owner",
        "status": "active",
        "avatar": None,
        "current": False,
        "created_at": owner["created_at"],
    }
    assert body["data"][1]["role"] == "admin"
    rows = as_role("editor").get(members_url(acme), {"limit": 100}).json()["data"]
    assert [r["email"] for r in rows if r["current"]] == ["editor@example.com"]
    last = as_role("editor").get(members_url(acme), {"page": 3, "limit": 2}).json()
    assert len(last["data"]) == 1 and last["has_more"] is False
    assert_envelope(as_role("editor").get(members_url(acme), {"limit": 0}), 422)


# -- invite ----------------------------------------------------------------------------------------


def test_invite_a_new_email_makes_a_pending_account_and_a_link(acme, as_role):
    response = as_role("admin").post(
        members_url(acme), {"email": "New.Person@Example.com", "role": "admin"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    account = Account.objects.get(email="new.person@example.com")
    assert account.status == Account.Status.PENDING and not account.has_usable_password()
    assert body["member_id"] == str(account.id)
    assert body["email"] == "new.person@example.com"
    assert body["role"] == "admin"
    assert body["tenant_id"] == str(acme.id)
    assert body["invite_url"].startswith("http://testserver/invite/")
    raw = body["invite_url"].rsplit("/", 1)[1]
    invitation = Invitation.objects.get(account=account)
    assert invitation.token_hash == invitation_digest(raw) and raw not in invitation.token_hash
    row = next(
        r
        for r in as_role("admin").get(members_url(acme)).json()["data"]
        if r["id"] == str(account.id)
    )
    assert row["status"] == "pending"
    event = AuditEvent.objects.get(action="member.invited")
    assert event.details["member_email"] == "new.person@example.com"
    assert raw not in str(event.details)


def test_invite_url_uses_public_base_url(acme, as_role, settings):
    settings.PUBLIC_BASE_URL = "https://dify.example.com"
    body = (
        as_role("owner")
        .post(members_url(acme), {"email": "n@example.com", "role": "normal"}, format="json")
        .json()
    )
    assert body["invite_url"].startswith("https://dify.example.com/invite/")


def test_invite_an_existing_account_adds_it_at_once(acme, as_role, charlie, api, token_for):
    response = as_role("owner").post(
        members_url(acme), {"email": "CHARLIE@example.com", "role": "normal"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["invite_url"] == "http://testserver/accounts/login/"
    assert not Invitation.objects.filter(account=charlie).exists()
    listed = api(token_for(charlie)).get("/openapi/v1/workspaces").json()["workspaces"]
    assert str(acme.id) in [w["id"] for w in listed]


def test_invite_twice_is_409(acme, as_role, cast):
    response = as_role("owner").post(
        members_url(acme), {"email": "target@example.com", "role": "admin"}, format="json"
    )
    assert_envelope(response, 409, code="member_exists")
    assert Membership.objects.get(workspace=acme, account=cast["target"]).role == "normal"


def test_invite_a_disabled_account_is_409(acme, as_role, make_account):
    make_account("gone@example.com").__class__.objects.filter(email="gone@example.com").update(
        status="disabled"
    )
    response = as_role("owner").post(
        members_url(acme), {"email": "gone@example.com", "role": "normal"}, format="json"
    )
    assert_envelope(response, 409, code="account_disabled")


# -- removal takes effect at once ------------------------------------------------------------------


def test_removed_member_loses_the_workspace_on_the_next_request(
    acme, cast, as_role, api, token_for
):
    token = token_for(cast["target"])
    client = api(token)
    assert client.get("/openapi/v1/apps", {"workspace_id": str(acme.id)}).status_code == 200
    assert client.get(members_url(acme)).status_code == 200
    assert as_role("owner").delete(member_url(acme, cast["target"])).status_code == 200
    assert_envelope(client.get("/openapi/v1/apps", {"workspace_id": str(acme.id)}), 403)
    assert_envelope(client.get(members_url(acme)), 404)
    assert_envelope(client.get(f"/openapi/v1/workspaces/{acme.id}"), 404)
    event = AuditEvent.objects.get(action="member.removed")
    assert event.details["member_id"] == str(cast["target"].id)
    assert event.account == cast["owner"]


def test_role_change_is_audited(acme, as_role, cast):
    as_role("admin").patch(member_url(acme, cast["target"]), {"role": "admin"}, format="json")
    event = AuditEvent.objects.get(action="member.role_changed")
    assert (event.details["before"], event.details["after"]) == ("normal", "admin")
    assert event.account == cast["admin"]


def test_removing_a_pending_member_withdraws_the_link(acme, as_role, client):
    body = (
        as_role("owner")
        .post(members_url(acme), {"email": "p@example.com", "role": "normal"}, format="json")
        .json()
    )
    path = "/" + body["invite_url"].split("/", 3)[3]
    assert client.get(path).status_code == 200
    account = Account.objects.get(email="p@example.com")
    assert as_role("owner").delete(member_url(acme, account)).status_code == 200
    assert client.get(path).status_code == 404
    assert not Invitation.objects.filter(account=account).exists()


# -- the invitation page ---------------------------------------------------------------------------


@pytest.fixture
def invite_path(acme, as_role):
    body = (
        as_role("owner")
        .post(members_url(acme), {"email": "invitee@example.com", "role": "editor"}, format="json")
        .json()
    )
    return "/" + body["invite_url"].split("/", 3)[3]


def test_invitation_page_sets_the_password_once(invite_path, client, acme):
    page = client.get(invite_path)
    assert page.status_code == 200
    assert b"invitee@example.com" in page.content and b"Acme" in page.content
    assert page["Referrer-Policy"] == "same-origin"
    assert "no-cache" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    mismatch = client.post(
        invite_path, {"password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD + "x"}
    )
    assert mismatch.status_code == 400 and b"don&#x27;t match" in mismatch.content
    short = client.post(invite_path, {"password": "short", "password_confirm": "short"})
    assert short.status_code == 400
    assert Account.objects.get(email="invitee@example.com").status == "pending"
    done = client.post(
        invite_path,
        {"password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD, "name": "Ivy"},
    )
    assert done.status_code == 200 and b"Account activated" in done.content
    account = Account.objects.get(email="invitee@example.com")
    assert account.status == "active" and account.check_password(TEST_PASSWORD)
    assert account.name == "Ivy"
    assert Membership.objects.get(account=account).current is True
    assert client.login(username="invitee@example.com", password=TEST_PASSWORD)
    client.logout()
    again = client.post(invite_path, {"password": "x" * 12, "password_confirm": "x" * 12})
    assert again.status_code == 404
    assert client.get(invite_path).status_code == 404
    account.refresh_from_db()
    assert account.check_password(TEST_PASSWORD)
    assert AuditEvent.objects.filter(action="invitation.accepted", account=account).count() == 1


def test_expired_and_unknown_links(invite_path, client):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(invite_path).status_code == 404
    post = client.post(invite_path, {"password": TEST_PASSWORD, "password_confirm": TEST_PASSWORD})
    assert post.status_code == 404
    assert client.get("/invite/" + "A" * 43).status_code == 404
    assert client.get("/invite/" + "A" * 500).status_code == 404


def test_pending_account_cannot_log_in(invite_path, client):
    assert not client.login(username="invitee@example.com", password="")


def test_admin_lists_pending_invitations_without_the_token(invite_path, superuser_client):
    page = superuser_client.get("/admin/workspaces/invitation/")
    assert page.status_code == 200
    assert b"invitee@example.com" in page.content and b"pending" in page.content
    invitation = Invitation.objects.get()
    detail = superuser_client.get(f"/admin/workspaces/invitation/{invitation.pk}/change/")
    assert detail.status_code == 200
    assert invitation.token_hash.encode() not in detail.content
    assert invite_path.rsplit("/", 1)[1].encode() not in detail.content
