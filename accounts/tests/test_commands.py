import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AccessToken
from accounts.tokens import token_digest


def _issue(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_issue_token_prints_a_working_token_once(api, alice):
    token = _issue("alice@example.com", "--label", "ci")
    assert token.startswith("dfoa_") and len(token) == 48
    body = api(token).get("/openapi/v1/account").json()
    assert body["subject_email"] == "alice@example.com"
    row = AccessToken.objects.get(token_hash=token_digest(token))
    assert row.device_label == "ci" and row.client_id == "difyctl"


def test_issue_token_days_and_client(alice):
    token = _issue("alice@example.com", "--days", "1", "--client-id", "scripts")
    row = AccessToken.objects.get(token_hash=token_digest(token))
    assert row.client_id == "scripts"
    assert (row.expires_at - row.created_at).days == 1


def test_issue_token_for_external_subject(api, db):
    token = _issue("Partner@Example.com", "--external-issuer", "https://idp.example.com")
    assert token.startswith("dfoe_")
    body = api(token).get("/openapi/v1/account").json()
    assert body["subject_type"] == "external_sso"
    assert body["subject_email"] == "partner@example.com"
    assert body["subject_issuer"] == "https://idp.example.com"


def test_same_label_rotates_the_old_token(api, alice):
    first = _issue("alice@example.com", "--label", "box")
    second = _issue("alice@example.com", "--label", "box")
    assert api(first).get("/openapi/v1/account").status_code == 401
    assert api(second).get("/openapi/v1/account").status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody@example.com"], "no account"),
        (["not-an-email"], "not an email"),
        (["alice@example.com", "--days", "0"], "--days"),
        (["alice@example.com", "--days", "400"], "--days"),
        (["x@example.com", "--external-issuer", "ftp://nope"], "--external-issuer"),
    ],
)
def test_issue_token_errors(alice, args, message):
    with pytest.raises(CommandError, match=message):
        _issue(*args)


def test_seed_demo_is_idempotent(db, api):
    from accounts.models import Account
    from workspaces.models import Membership, Workspace

    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=io.StringIO())
    assert "demo@example.com" in out.getvalue() and "demo-password" in out.getvalue()
    account = Account.objects.get(email="demo@example.com")
    assert account.check_password("demo-password")
    roles = {m.workspace.name: m.role for m in Membership.objects.filter(account=account)}
    assert roles == {"Demo": "owner", "Shared Team": "normal"}
    assert Workspace.objects.filter(name="Demo").count() == 1
    token = _issue("demo@example.com")
    assert len(api(token).get("/openapi/v1/workspaces").json()["workspaces"]) == 2


def test_issue_token_records_the_operator_not_the_account(alice):
    from accounts.models import AuditEvent

    token = _issue("alice@example.com", "--label", "ops")
    row = AccessToken.objects.get(token_hash=token_digest(token))
    event = AuditEvent.objects.get(action="access_token.issued", token_id=row.id)
    assert (event.actor_type, event.actor_email) == ("operator", "manage.py issue_token")
    assert event.account == alice and event.details["subject_email"] == "alice@example.com"


def test_audit_actions_follow_one_scheme(db):
    from accounts.audit import Actor, audit_record

    with pytest.raises(ValueError, match="is not <entity>"):
        audit_record("token_issued", actor=Actor.system())
    assert audit_record("access_token.issued", actor=Actor.system()).action == "access_token.issued"
