"""The front door: ``/`` says what the service is and links onwards; the admin's "View site" and
the favicon lead somewhere real; the admin's sections read as a person would name them."""

from __future__ import annotations

import re

from accounts.models import Account


def test_home_page_links_to_device_docs_and_admin(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Dify-compatible API" in page
    for href in ('href="/device"', 'href="/openapi/v1/docs"', 'href="/admin/"'):
        assert href in page
    assert 'rel="icon"' in page
    for target in ("/device", "/openapi/v1/docs", "/admin/"):
        assert client.get(target).status_code in (200, 302)


def test_home_page_is_get_only(client, db):
    assert client.post("/").status_code == 405


def test_favicon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content)


def test_admin_view_site_lands_on_the_front_door_and_sections_are_named(client, db):
    root = Account.objects.create_superuser("root@example.com", "pw-123456789", name="Root")
    client.force_login(root)
    page = client.get("/admin/").content.decode()
    assert re.search(r'<a href="/">View site</a>', page)
    for label in ("Accounts", "Workspaces", "Device login", "Apps"):
        assert f">{label}</a>" in page, label
    assert "Apps_Runtime" not in page and "Oauth_Device" not in page
