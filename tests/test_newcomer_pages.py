"""The pages a newcomer sees (issue 22 item 6): a styled 404, a demo admin under `make run` only,
role choices the service accepts, "Recent actions" after service-backed admin actions, and a way
back and a word on tokens in the Swagger UI."""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command

from accounts.models import Account

pytestmark = pytest.mark.django_db


def test_an_unknown_page_is_the_sites_styled_404_with_links(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html and "/no-such-page" in html
    assert "css/site.css" in html  # the site's own look, not Django's bare page
    assert 'href="/"' in html and 'href="/device"' in html and 'href="/openapi/v1/docs"' in html


def test_seed_demo_makes_an_admin_only_when_asked_and_says_how_otherwise():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    assert "demo@example.com" in printed and "not an admin" in printed
    assert "an administrator for /admin/: manage.py createsuperuser" in printed
    assert not Account.objects.filter(is_superuser=True).exists()
    assert not Account.objects.get(email="demo@example.com").is_staff

    out = io.StringIO()
    call_command("seed_demo", "--with-admin", stdout=out)
    assert "demo admin (for /admin/): admin@example.com / password: " in out.getvalue()
    admin = Account.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.is_staff and admin.check_password("demo-password")
    assert not Account.objects.get(email="demo@example.com").is_staff


def test_the_membership_roles_offered_are_the_ones_the_service_accepts(superuser_client, acme):
    page = superuser_client.get(f"/admin/workspaces/workspace/{acme.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="editor"' in html
    assert "dataset_operator" not in html and "dataset operator" not in html


def test_service_backed_admin_actions_show_in_recent_actions(superuser_client, alice):
    response = superuser_client.post(
        "/admin/accounts/account/",
        {"action": "disable_accounts", "_selected_action": [str(alice.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    entry = LogEntry.objects.get()
    assert entry.object_repr == str(alice)
    assert entry.get_change_message().startswith("Action: Disable selected accounts")
    index = superuser_client.get("/admin/").content.decode()
    assert "None available" not in index and str(alice) in index


def test_swagger_ui_links_home_and_says_how_to_get_a_token(client):
    schema = client.get("/openapi/v1/schema", HTTP_ACCEPT="application/json").json()
    description = schema["info"]["description"]
    assert "[← Back to the front page](/)" in description
    assert "difyctl auth login" in description and "manage.py issue_token" in description
    assert "Authorize" in description
