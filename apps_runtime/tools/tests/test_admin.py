"""Tool providers in the admin: added from a schema, refused with the reason on a private
address, credentials write-only, and the tool list refreshed by an action."""

from __future__ import annotations

import pytest

from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.tests.helpers import pets_schema

pytestmark = pytest.mark.django_db

ADD = "/admin/apps_runtime/toolprovider/add/"


def form(acme, schema, **extra):
    return {
        "workspace": str(acme.id),
        "kind": "api",
        "name": "pets",
        "provider_id": "",
        "description": "",
        "schema": schema,
        "server_url": "",
        "auth_type": "bearer",
        "auth_key_name": "",
        "new_secret": "tok-abc",
        "new_headers": "",
        **extra,
    }


def test_an_openapi_provider_is_added_and_its_token_never_shown(superuser_client, acme, pets):
    response = superuser_client.post(ADD, form(acme, pets_schema(pets.base)))
    assert response.status_code == 302, response.content[:2000]
    provider = ToolProvider.objects.get()
    assert sorted(t["name"] for t in provider.tools) == ["addPet", "getPet"]
    page = superuser_client.get(f"/admin/apps_runtime/toolprovider/{provider.pk}/change/")
    assert b"tok-abc" not in page.content and provider.credentials.encode() not in page.content
    assert b"set (" in page.content


def test_a_private_server_is_refused_with_a_message_that_says_so(superuser_client, acme, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    response = superuser_client.post(ADD, form(acme, pets_schema("http://192.168.1.20/api")))
    assert response.status_code == 200
    assert b"private or reserved address" in response.content
    assert not ToolProvider.objects.exists()


def test_the_refresh_action_reparses_the_schema(superuser_client, acme, pets):
    superuser_client.post(ADD, form(acme, pets_schema(pets.base)))
    provider = ToolProvider.objects.get()
    ToolProvider.objects.filter(pk=provider.pk).update(tools=[])
    response = superuser_client.post(
        "/admin/apps_runtime/toolprovider/",
        {"action": "refresh_tools", "_selected_action": [str(provider.pk)]},
        follow=True,
    )
    assert "pets: 2 tool(s)" in [str(m) for m in response.context["messages"]]
    provider.refresh_from_db()
    assert len(provider.tools) == 2
