import os

from django.core.management import call_command

from accounts.models import Account


def test_login_page_logs_in_and_redirects(client, alice):
    page = client.get("/accounts/login/?next=/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="username"' in html and 'name="password"' in html and "csrfmiddlewaretoken" in html
    response = client.post(
        "/accounts/login/",
        {"username": "alice@example.com", "password": "pw-123456789", "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_login_with_wrong_password_shows_error(client, alice):
    response = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": "wrong"}
    )
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_disabled_account_cannot_log_in(client, alice):
    Account.objects.filter(pk=alice.pk).update(status=Account.Status.DISABLED)
    response = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": "pw-123456789"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logout(client, alice):
    client.force_login(alice)
    response = client.post("/accounts/logout/")
    assert response.status_code in (200, 302)
    assert "_auth_user_id" not in client.session


def test_pages_refuse_framing(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_createsuperuser(db, monkeypatch):
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_PASSWORD", "a-strong-password-1")
    call_command("createsuperuser", "--noinput", "--email", "Admin@Example.com", "--name", "Admin")
    admin = Account.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff and admin.check_password("a-strong-password-1")


def test_login_email_is_case_insensitive(client, alice):
    response = client.post(
        "/accounts/login/", {"username": "Alice@Example.COM", "password": "pw-123456789"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_emails_are_unique_whatever_their_case(db):
    import pytest
    from django.db import IntegrityError, transaction

    Account.objects.create(email="x@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(email="X@Example.com")
