"""Invitations of one address by several workspaces (issue 16 item 1; docs/decisions 16).

Whoever activates an account through one workspace's invitation link gets that workspace only;
every other workspace's invitation, earlier or later, stays pending until the account, signed in,
uses a confirmation link mailed to its address. All through HTTP, as the people involved would:
the member routes with bearer tokens, the ``/invite/…`` pages with a browser session.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Account, AuditEvent
from conftest import TEST_PASSWORD, assert_envelope
from workspaces.models import Invitation, Workspace

X = "xavier@corp.example"
ATTACKER_PASSWORD = "globex-owner-pw-2026"


@pytest.fixture
def globex(make_account: Any) -> tuple[Workspace, Any]:
    """Another workspace with its own owner (who will try to take an invitation of acme)."""
    from workspaces.models import Membership

    owner = make_account("gina@globex.example")
    workspace = Workspace.objects.create(name="Globex")
    Membership.objects.create(workspace=workspace, account=owner, role="owner", current=True)
    return workspace, owner


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks: Any) -> Any:
    """Run a request with its on-commit work (the confirmation mail) done, as in production."""

    def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return call


def invite(run_commits, api, token, workspace, email=X, role="normal") -> dict[str, Any]:
    response = run_commits(
        api(token).post,
        f"/openapi/v1/workspaces/{workspace.id}/members",
        {"email": email, "role": role},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def activate(run_commits, invite_url: str, password: str = ATTACKER_PASSWORD) -> Any:
    page = run_commits(
        Client().post,
        path_of(invite_url),
        {"password": password, "password_confirm": password},
    )
    assert page.status_code == 200 and b"Account activated" in page.content, page.content
    return page


def mailed_links(email: str = X) -> list[str]:
    return [
        path_of(link)
        for message in mail.outbox
        if message.to == [email]
        for link in re.findall(r"https?://\S+/invite/confirm/\S+", message.body)
    ]


def workspace_ids(api, token) -> set[str]:
    return {w["id"] for w in api(token).get("/openapi/v1/workspaces").json()["workspaces"]}


def member_row(api, token, workspace, email=X) -> dict[str, Any] | None:
    rows = api(token).get(f"/openapi/v1/workspaces/{workspace.id}/members").json()["data"]
    return next((r for r in rows if r["email"] == email), None)


def assert_no_access(api, token, workspace) -> None:
    assert str(workspace.id) not in workspace_ids(api, token)
    assert_envelope(api(token).get(f"/openapi/v1/workspaces/{workspace.id}/members"), 404)
    assert_envelope(api(token).get(f"/openapi/v1/workspaces/{workspace.id}"), 404)
    assert_envelope(api(token).post(f"/openapi/v1/workspaces/{workspace.id}/switch"), 404)
    assert_envelope(
        api(token).post(
            f"/openapi/v1/workspaces/{workspace.id}/members",
            {"email": "friend@globex.example", "role": "admin"},
            format="json",
        ),
        404,
    )
    assert_envelope(api(token).get("/openapi/v1/apps", {"workspace_id": str(workspace.id)}), 403)


def signed_in(email: str = X, password: str = ATTACKER_PASSWORD) -> Client:
    browser = Client()
    assert browser.login(username=email, password=password)
    return browser


@pytest.mark.parametrize("acme_first", [True, False], ids=["acme-invites-first", "globex-first"])
def test_another_workspaces_link_never_brings_acmes_invitation(
    acme_first, acme, alice, globex, api, token_for, run_commits
):
    gx, gina = globex
    owner_a, owner_g = token_for(alice), token_for(gina)
    if acme_first:
        to_acme = invite(run_commits, api, owner_a, acme, role="admin")
        to_globex = invite(run_commits, api, owner_g, gx)
    else:
        to_globex = invite(run_commits, api, owner_g, gx)
        to_acme = invite(run_commits, api, owner_a, acme, role="admin")
    assert mail.outbox == []  # the invitation links go to the inviters, as before

    page = activate(run_commits, to_globex["invite_url"])  # Gina opens her own link

    taken = token_for(Account.objects.get(email=X))
    assert workspace_ids(api, taken) == {str(gx.id)}
    assert_no_access(api, taken, acme)
    assert b"mailed a link" in page.content
    assert member_row(api, owner_a, acme)["status"] == "pending"
    assert member_row(api, owner_g, gx)["status"] == "active"
    # Acme's own link no longer activates anything: the account is not pending any more.
    assert Client().get(path_of(to_acme["invite_url"])).status_code == 404
    # The confirmation went to the address, and to no response Gina could read.
    links = mailed_links()
    assert len(links) == 1 and [m.to for m in mail.outbox] == [[X]]
    # The mailbox's owner, not knowing Gina's password, cannot confirm for Gina's account;
    # another signed-in account cannot either.
    anonymous = Client().get(links[0])
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert Client().post(links[0]).status_code == 302
    other = Client()
    other.force_login(alice)
    assert other.post(links[0]).status_code == 403
    assert_no_access(api, taken, acme)
    assert AuditEvent.objects.filter(action="account.email_confirmed").count() == 0


def test_the_address_owner_confirms_and_joins_every_live_invitation(
    acme, alice, globex, api, token_for, run_commits
):
    gx, gina = globex
    owner_a, owner_g = token_for(alice), token_for(gina)
    invite(run_commits, api, owner_a, acme, role="admin")
    to_globex = invite(run_commits, api, owner_g, gx, role="editor")
    activate(run_commits, to_globex["invite_url"], password=TEST_PASSWORD)
    [link] = mailed_links()

    browser = signed_in(password=TEST_PASSWORD)
    page = browser.get(link)
    assert page.status_code == 200 and b"Acme" in page.content and b"admin" in page.content
    assert b"Globex" not in page.content
    done = run_commits(browser.post, link)
    assert done.status_code == 200 and b"Address confirmed" in done.content

    token = token_for(Account.objects.get(email=X))
    assert workspace_ids(api, token) == {str(acme.id), str(gx.id)}
    assert member_row(api, owner_a, acme) | {"status": "active", "role": "admin"} == member_row(
        api, owner_a, acme
    )
    assert api(token).get("/openapi/v1/apps", {"workspace_id": str(acme.id)}).status_code == 200
    # Globex, activated by its link, stays the current workspace.
    current = [w for w in api(token).get("/openapi/v1/workspaces").json()["workspaces"]]
    assert [w["id"] for w in current if w["current"]] == [str(gx.id)]
    assert browser.post(link).status_code == 404  # single use
    assert AuditEvent.objects.get(action="account.email_confirmed").details["workspace_ids"] == [
        str(acme.id)
    ]

    # A confirmed address is an ordinary account again: a new invitation joins at once.
    third = Workspace.objects.create(name="Initech")
    from workspaces.models import Membership

    Membership.objects.create(workspace=third, account=alice, role="owner")
    later = invite(run_commits, api, owner_a, third)
    assert later["invite_url"].endswith("/accounts/login/")
    assert str(third.id) in workspace_ids(api, token)


def test_invitations_after_activation_wait_for_the_address(
    acme, alice, globex, api, token_for, run_commits
):
    """Gina invites the address alone and activates it through her link (today's single-invite
    path, unchanged); an invitation Acme sends later waits for the address, not for Gina."""
    gx, gina = globex
    owner_a, owner_g = token_for(alice), token_for(gina)
    page = activate(run_commits, invite(run_commits, api, owner_g, gx)["invite_url"])
    assert b"mailed a link" not in page.content and mail.outbox == []
    taken = token_for(Account.objects.get(email=X))
    assert workspace_ids(api, taken) == {str(gx.id)}

    later = invite(run_commits, api, owner_a, acme, role="admin")
    assert later["invite_url"].endswith("/accounts/login/")  # no link for the inviter
    assert member_row(api, owner_a, acme)["status"] == "pending"
    assert_no_access(api, taken, acme)
    [link] = mailed_links()
    # Gina, signed in as the account, does not have the mail; a guess at the link is invalid.
    guess = signed_in().get("/invite/confirm/" + "A" * 43)
    assert guess.status_code == 404
    # An invite twice from Acme is a re-invite of a pending member (a new mail), not a 409.
    again = invite(run_commits, api, owner_a, acme, role="editor")
    assert again["role"] == "editor" and len(mailed_links()) == 2
    assert member_row(api, owner_a, acme)["role"] == "editor"
    assert_no_access(api, taken, acme)
    # Once granted, a further invite is the usual 409.
    run_commits(signed_in().post, link)
    assert str(acme.id) in workspace_ids(api, taken)
    assert member_row(api, owner_a, acme)["role"] == "editor"
    response = api(owner_a).post(
        f"/openapi/v1/workspaces/{acme.id}/members", {"email": X, "role": "admin"}, format="json"
    )
    assert_envelope(response, 409, code="member_exists")


def test_reinviting_a_pending_account_replaces_its_link(acme, alice, api, token_for, run_commits):
    owner_a = token_for(alice)
    first = invite(run_commits, api, owner_a, acme, role="admin")
    second = invite(run_commits, api, owner_a, acme, role="normal")
    assert first["invite_url"] != second["invite_url"]
    assert Client().get(path_of(first["invite_url"])).status_code == 404
    activate(run_commits, second["invite_url"], password=TEST_PASSWORD)
    assert mail.outbox == []
    token = token_for(Account.objects.get(email=X))
    assert workspace_ids(api, token) == {str(acme.id)}
    assert member_row(api, owner_a, acme)["role"] == "normal"
    assert member_row(api, owner_a, acme)["status"] == "active"


def test_removal_between_the_two_invitations(acme, alice, globex, api, token_for, run_commits):
    gx, gina = globex
    owner_a, owner_g = token_for(alice), token_for(gina)
    x_id = invite(run_commits, api, owner_a, acme, role="admin")["member_id"]
    assert (
        api(owner_a).delete(f"/openapi/v1/workspaces/{acme.id}/members/{x_id}").status_code == 200
    )
    to_globex = invite(run_commits, api, owner_g, gx)
    page = activate(run_commits, to_globex["invite_url"])
    assert b"mailed a link" not in page.content and mailed_links() == []
    taken = token_for(Account.objects.get(email=X))
    assert workspace_ids(api, taken) == {str(gx.id)}
    assert member_row(api, owner_a, acme) is None

    # Removed after activation and before the confirmation: the confirmation grants nothing.
    invite(run_commits, api, owner_a, acme, role="admin")
    [link] = mailed_links()
    assert (
        api(owner_a).delete(f"/openapi/v1/workspaces/{acme.id}/members/{x_id}").status_code == 200
    )
    browser = signed_in()
    assert b"No invitation is waiting" in browser.get(link).content
    run_commits(browser.post, link)
    assert workspace_ids(api, taken) == {str(gx.id)}
    assert member_row(api, owner_a, acme) is None


def test_expired_invitations_and_links(acme, alice, globex, api, token_for, run_commits):
    gx, gina = globex
    owner_a, owner_g = token_for(alice), token_for(gina)
    invite(run_commits, api, owner_a, acme, role="admin")
    activate(run_commits, invite(run_commits, api, owner_g, gx)["invite_url"])
    [link] = mailed_links()
    account = Account.objects.get(email=X)

    # Acme's invitation expires before the address is confirmed: confirming does not bring it.
    Invitation.objects.filter(workspace=acme).update(expires_at=timezone.now() - timedelta(1))
    browser = signed_in()
    run_commits(browser.post, link)
    taken = token_for(account)
    assert workspace_ids(api, taken) == {str(gx.id)}
    assert member_row(api, owner_a, acme)["status"] == "pending"
    # A re-invite after the confirmation joins at once (the address is proven now).
    invite(run_commits, api, owner_a, acme, role="editor")
    assert str(acme.id) in workspace_ids(api, taken)

    # An expired confirmation link is invalid and grants nothing.
    other = Workspace.objects.create(name="Initech")
    from workspaces.models import Membership

    Membership.objects.create(workspace=other, account=gina, role="owner")
    Account.objects.filter(pk=account.pk).update(email_confirmed=False)
    invite(run_commits, api, owner_g, other)
    late = mailed_links()[-1]
    from workspaces.models import AddressConfirmation

    AddressConfirmation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert browser.get(late).status_code == 404
    assert browser.post(late).status_code == 404
    assert str(other.id) not in workspace_ids(api, taken)
