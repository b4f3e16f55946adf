"""Disabling an account revokes its live tokens for good (issue 8 §10, security 34)."""

from __future__ import annotations

import pytest

from accounts.models import AccessToken, Account, AuditEvent

CHANGELIST = "/admin/accounts/account/"


@pytest.fixture
def staff_client(client, db):
    root = Account.objects.create_superuser("root@example.com", "root-password-123")
    client.force_login(root)
    return client


def _action(staff_client, action: str, account: Account):
    response = staff_client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(account.pk)]}
    )
    assert response.status_code == 302, response.content[:300]


def test_disable_revokes_tokens_and_enable_does_not_bring_them_back(
    staff_client, api, alice, bob, token_for
):
    tokens = [token_for(alice), token_for(alice)]
    bobs = token_for(bob)
    for token in tokens:
        assert api(token).get("/openapi/v1/account").status_code == 200

    _action(staff_client, "disable_accounts", alice)
    for token in tokens:
        assert api(token).get("/openapi/v1/account").status_code == 401
    revoked = AuditEvent.objects.filter(action="access_token.revoked", account=alice)
    assert revoked.count() == 2
    assert {event.details["reason"] for event in revoked} == {"account_disabled"}
    assert AuditEvent.objects.filter(action="account.disabled", account=alice).exists()

    _action(staff_client, "enable_accounts", alice)
    for token in tokens:
        assert api(token).get("/openapi/v1/account").status_code == 401
    assert not AccessToken.objects.filter(account=alice, revoked_at__isnull=True).exists()
    assert api(bobs).get("/openapi/v1/account").status_code == 200  # others untouched
    # A new login after re-enabling works as usual.
    assert api(token_for(alice)).get("/openapi/v1/account").status_code == 200


def test_disabling_in_the_change_form_revokes_too(staff_client, api, alice, token_for):
    token = token_for(alice)
    url = f"{CHANGELIST}{alice.pk}/change/"
    form = staff_client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, (list, bool)) and name != "password"
    }
    data.update({"status": "disabled", "email": alice.email, "name": alice.name})
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    alice.refresh_from_db()
    assert alice.status == "disabled"
    assert api(token).get("/openapi/v1/account").status_code == 401
    assert AuditEvent.objects.filter(action="access_token.revoked", account=alice).count() == 1
