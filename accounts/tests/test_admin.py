import pytest

from accounts.models import AccessToken, Account, AuditEvent
from accounts.tokens import token_digest


@pytest.fixture
def staff_client(client, make_account):
    admin = Account.objects.create_superuser("root@example.com", "root-password-123")
    client.force_login(admin)
    return client


def test_sessions_are_masked_and_cannot_be_added(staff_client, alice, token_for):
    token = token_for(alice, label="work laptop")
    page = staff_client.get("/admin/accounts/accesstoken/").content.decode()
    assert "work laptop" in page and "dfoa_••••••••" in page
    assert token not in page and token_digest(token) not in page
    assert staff_client.get("/admin/accounts/accesstoken/add/").status_code == 403
    row = AccessToken.objects.get(device_label="work laptop")
    detail = staff_client.get(f"/admin/accounts/accesstoken/{row.pk}/change/").content.decode()
    assert token_digest(token) not in detail


def test_filter_and_search(staff_client, alice, bob, token_for):
    token_for(alice, label="alpha")
    token_for(bob, label="beta", client_id="other-cli")
    page = staff_client.get("/admin/accounts/accesstoken/?q=bob@example.com").content.decode()
    assert "beta" in page and "alpha" not in page
    page = staff_client.get("/admin/accounts/accesstoken/?client_id=other-cli").content.decode()
    assert "beta" in page and "alpha" not in page
    page = staff_client.get("/admin/accounts/accesstoken/?status=revoked").content.decode()
    assert "beta" not in page and "alpha" not in page


def test_revoke_selected_action(staff_client, api, alice, token_for):
    token = token_for(alice, label="to revoke")
    row = AccessToken.objects.get(device_label="to revoke")
    response = staff_client.post(
        "/admin/accounts/accesstoken/",
        {"action": "revoke_selected", "_selected_action": [str(row.pk)]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert api(token).get("/openapi/v1/account").status_code == 401
    event = AuditEvent.objects.get(action="access_token.revoked", token_id=row.id)
    assert event.actor_type == "admin" and event.actor_email == "root@example.com"


def test_disable_account_action(staff_client, api, alice, token_for):
    token = token_for(alice)
    response = staff_client.post(
        "/admin/accounts/account/",
        {"action": "disable_accounts", "_selected_action": [str(alice.pk)]},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.status == "disabled"
    assert api(token).get("/openapi/v1/account").status_code == 401
    assert AuditEvent.objects.filter(action="account.disabled", account=alice).exists()


def test_workspace_admin_shows_memberships_inline(staff_client, alice, acme):
    page = staff_client.get(f"/admin/workspaces/workspace/{acme.pk}/change/").content.decode()
    assert "alice@example.com" in page and "owner" in page


def test_audit_trail_is_read_only(staff_client, alice, token_for):
    token_for(alice)
    event = AuditEvent.objects.get(action="access_token.issued")
    assert staff_client.get("/admin/accounts/auditevent/").status_code == 200
    assert staff_client.get("/admin/accounts/auditevent/add/").status_code == 403
    assert (
        staff_client.post(
            f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )


def test_view_only_staff_cannot_revoke(client, alice, token_for, api):
    from django.contrib.auth.models import Permission

    viewer = Account.objects.create_user("viewer@example.com", "viewer-password-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_accesstoken"))
    client.force_login(viewer)
    token = token_for(alice, label="keep me")
    row = AccessToken.objects.get(device_label="keep me")
    page = client.get("/admin/accounts/accesstoken/").content.decode()
    assert "keep me" in page and "revoke_selected" not in page
    client.post(
        "/admin/accounts/accesstoken/",
        {"action": "revoke_selected", "_selected_action": [str(row.pk)]},
    )
    row.refresh_from_db()
    assert row.revoked_at is None
    assert api(token).get("/openapi/v1/account").status_code == 200


def test_admin_adds_accounts_with_lower_case_unique_email(staff_client):
    response = staff_client.post(
        "/admin/accounts/account/add/",
        {
            "email": "New.User@Example.com",
            "name": "New",
            "password1": "a-strong-pass-1",
            "password2": "a-strong-pass-1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Account.objects.filter(email="new.user@example.com").exists()
    again = staff_client.post(
        "/admin/accounts/account/add/",
        {
            "email": "NEW.user@example.com",
            "name": "Dup",
            "password1": "a-strong-pass-1",
            "password2": "a-strong-pass-1",
        },
    )
    assert again.status_code == 200
    assert "already exists" in again.content.decode()
    assert Account.objects.filter(email__iexact="new.user@example.com").count() == 1
