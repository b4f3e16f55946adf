"""The accounts admin writes through the same services as the API: each admin edit or action
leaves exactly the audit record the service leaves for the same change by the same admin."""

from __future__ import annotations

from typing import Any

from accounts.audit import Actor
from accounts.models import AccessToken, Account, AuditEvent
from accounts.services import (
    access_token_revoke,
    account_create,
    account_set_status,
    account_update,
)
from tests.audit_records import last_id, only_new_event, record

ACCOUNTS = "/admin/accounts/account/"
TOKENS = "/admin/accounts/accesstoken/"


def test_disable_action_writes_the_services_record(root_client, root, alice):
    mark = last_id()
    root_client.post(ACCOUNTS, {"action": "disable_accounts", "_selected_action": [alice.pk]})
    via_admin = only_new_event(mark)
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.ACTIVE)
    mark = last_id()
    account_set_status(alice, Account.Status.DISABLED, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))
    assert via_admin.action == "account.disabled" and via_admin.actor_type == "admin"


def test_enable_action_writes_the_services_record(root_client, root, alice):
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.DISABLED)
    mark = last_id()
    root_client.post(ACCOUNTS, {"action": "enable_accounts", "_selected_action": [alice.pk]})
    via_admin = only_new_event(mark)
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.DISABLED)
    mark = last_id()
    account_set_status(alice, Account.Status.ACTIVE, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))
    assert via_admin.action == "account.enabled"


def test_revoke_action_writes_the_services_record(root_client, root, alice, token_for):
    token_for(alice, label="laptop")
    row = AccessToken.objects.get(device_label="laptop")
    mark = last_id()
    root_client.post(TOKENS, {"action": "revoke_selected", "_selected_action": [row.pk]})
    via_admin = only_new_event(mark)
    AccessToken.objects.filter(pk=row.pk).update(revoked_at=None, token_hash="x" * 64)
    row.refresh_from_db()
    mark = last_id()
    access_token_revoke(row, actor=Actor.admin(root), reason="revoked in admin")
    assert record(via_admin) == record(only_new_event(mark))
    assert via_admin.action == "access_token.revoked"


def _change_form(account: Account, **overrides: Any) -> dict[str, Any]:
    data = {
        "email": account.email,
        "name": account.name,
        "status": account.status,
        "is_staff": "on" if account.is_staff else "",
        "is_superuser": "on" if account.is_superuser else "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def test_change_form_status_writes_the_services_record(root_client, root, alice):
    mark = last_id()
    response = root_client.post(
        f"{ACCOUNTS}{alice.pk}/change/", _change_form(alice, status="disabled")
    )
    assert response.status_code == 302, response.content[:2000]
    via_admin = only_new_event(mark)
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.ACTIVE)
    mark = last_id()
    account_set_status(alice, Account.Status.DISABLED, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))


def test_change_form_profile_writes_the_services_record(root_client, root, alice):
    mark = last_id()
    response = root_client.post(
        f"{ACCOUNTS}{alice.pk}/change/", _change_form(alice, name="Alice B", is_staff="on")
    )
    assert response.status_code == 302, response.content[:2000]
    via_admin = only_new_event(mark)
    assert via_admin.details["changes"] == {
        "name": {"before": "Alice", "after": "Alice B"},
        "is_staff": {"before": False, "after": True},
    }
    Account.objects.filter(pk=alice.pk).update(name="Alice", is_staff=False)
    alice.refresh_from_db()
    mark = last_id()
    account_update(alice, changes={"name": "Alice B", "is_staff": True}, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))


def test_add_form_writes_the_services_record(root_client, root):
    mark = last_id()
    response = root_client.post(
        f"{ACCOUNTS}add/",
        {
            "email": "New@Example.com",
            "name": "New",
            "password1": "a-long-password-1",
            "password2": "a-long-password-1",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    via_admin = only_new_event(mark)
    created = Account.objects.get(email="new@example.com")
    assert created.check_password("a-long-password-1")
    assert via_admin.account_id == created.pk
    mark = last_id()
    twin = account_create(
        email="twin@example.com", password="a-long-password-1", name="Twin", actor=Actor.admin(root)
    )
    by_service = only_new_event(mark)
    assert record(via_admin, "email") == {
        **record(by_service, "email"),
        "account_id": created.pk,
    }
    assert by_service.account_id == twin.pk


def test_audit_trail_is_read_only_and_names_the_actor_type(root_client, root, alice, token_for):
    token_for(alice, label="cli")
    account_set_status(alice, Account.Status.DISABLED, actor=Actor.admin(root))
    listing = root_client.get("/admin/accounts/auditevent/").content.decode()
    assert "operator" in listing and "admin" in listing and "account.disabled" in listing
    event = AuditEvent.objects.get(action="account.disabled")
    url = f"/admin/accounts/auditevent/{event.pk}/change/"
    assert root_client.get(url).status_code == 200
    root_client.post(url, {"action": "forged"})
    event.refresh_from_db()
    assert event.action == "account.disabled"
    assert root_client.get("/admin/accounts/auditevent/add/").status_code == 403
    assert root_client.post(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403
    filtered = root_client.get("/admin/accounts/auditevent/", {"actor_type": "admin"})
    # Disabling also revoked alice's token, by the same admin (issue 8 §10).
    assert sorted(e.action for e in filtered.context["cl"].result_list) == [
        "access_token.revoked",
        "account.disabled",
    ]
