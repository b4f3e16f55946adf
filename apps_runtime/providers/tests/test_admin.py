"""Provider configurations in the admin, as a superuser uses it: the key is write-only."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Account, AuditEvent
from apps_runtime.providers.models import ProviderConfig
from apps_runtime.providers.selectors import provider_endpoint_for
from config.crypto import unseal

ADD = "/admin/apps_runtime/providerconfig/add/"
SECRET = "sk-very-secret-123"


@pytest.fixture
def admin_client(db) -> Client:
    user = Account.objects.create_superuser("root@example.com", "pw-123456789", name="Root")
    client = Client()
    client.force_login(user)
    return client


def form(acme, **overrides):
    data = {
        "workspace": str(acme.pk),
        "provider": "langgenius/openai_api_compatible/openai_api_compatible",
        "base_url": "http://llm.example/v1",
        "model_names": "gpt-4o-mini",
        "new_api_key": SECRET,
    }
    data.update(overrides)
    return data


def test_create_seals_the_key_and_never_shows_it(admin_client, acme):
    response = admin_client.post(ADD, form(acme))
    assert response.status_code == 302, response.content[:2000]
    config = ProviderConfig.objects.get()
    assert config.provider == "openai_api_compatible"
    assert config.model_names == ["gpt-4o-mini"]
    assert SECRET not in config.api_key and unseal(config.api_key) == SECRET
    change = f"/admin/apps_runtime/providerconfig/{config.pk}/change/"
    page = admin_client.get(change).content.decode()
    assert SECRET not in page and config.api_key not in page
    assert "set (" in page
    listing = admin_client.get("/admin/apps_runtime/providerconfig/").content.decode()
    assert SECRET not in listing and config.api_key not in listing
    event = AuditEvent.objects.get(action="provider_config.created")
    assert event.actor_email == "root@example.com"
    assert event.details["api_key_changed"] is True
    assert SECRET not in str(event.details) and config.api_key not in str(event.details)


def test_edit_without_a_key_keeps_it_and_a_new_key_replaces_it(admin_client, acme):
    admin_client.post(ADD, form(acme))
    config = ProviderConfig.objects.get()
    change = f"/admin/apps_runtime/providerconfig/{config.pk}/change/"
    response = admin_client.post(change, form(acme, new_api_key="", base_url="http://b.example/v1"))
    assert response.status_code == 302
    assert provider_endpoint_for(acme, "openai_api_compatible").api_key == SECRET
    assert provider_endpoint_for(acme, "openai_api_compatible").base_url == "http://b.example/v1"
    admin_client.post(change, form(acme, new_api_key="sk-new"))
    assert provider_endpoint_for(acme, "openai_api_compatible").api_key == "sk-new"
    admin_client.post(change, form(acme, new_api_key="", clear_api_key="on"))
    assert provider_endpoint_for(acme, "openai_api_compatible").api_key == ""
    assert AuditEvent.objects.filter(action="provider_config.updated").count() == 3


def test_models_are_typed_one_per_line_not_as_json(admin_client, acme):
    page = admin_client.get(ADD).content.decode()
    assert "one per line" in page and ">[]</textarea>" not in page
    response = admin_client.post(ADD, form(acme, model_names="gpt-4o-mini\n  gpt-4o \n\ngpt-4o"))
    assert response.status_code == 302, response.content[:2000]
    config = ProviderConfig.objects.get()
    assert config.model_names == ["gpt-4o-mini", "gpt-4o"]
    change = admin_client.get(f"/admin/apps_runtime/providerconfig/{config.pk}/change/")
    assert "gpt-4o-mini\ngpt-4o</textarea>" in change.content.decode()


def test_bad_input_is_a_form_error(admin_client, acme):
    response = admin_client.post(ADD, form(acme, base_url="not a url", model_names='{"a": 1}'))
    assert response.status_code == 200
    assert ProviderConfig.objects.count() == 0
    response = admin_client.post(ADD, form(acme, clear_api_key="on"))
    assert response.status_code == 200 and ProviderConfig.objects.count() == 0


def test_same_provider_twice_is_a_form_error_not_a_500(admin_client, acme):
    assert admin_client.post(ADD, form(acme, provider="openai_api_compatible")).status_code == 302
    response = admin_client.post(ADD, form(acme))  # the full DSL name of the same provider
    assert response.status_code == 200
    assert ProviderConfig.objects.count() == 1
    response = admin_client.post(ADD, form(acme, provider="x", base_url="ftp://llm.example/v1"))
    assert response.status_code == 200
    response = admin_client.post(ADD, form(acme, provider="/"))
    assert response.status_code == 200
    assert ProviderConfig.objects.count() == 1


def test_a_blank_key_keeps_the_stored_one(admin_client, acme):
    admin_client.post(ADD, form(acme))
    config = ProviderConfig.objects.get()
    change = f"/admin/apps_runtime/providerconfig/{config.pk}/change/"
    admin_client.post(change, form(acme, new_api_key="   "))
    assert provider_endpoint_for(acme, "openai_api_compatible").api_key == SECRET


def test_a_second_default_takes_over(admin_client, acme):
    admin_client.post(ADD, form(acme, provider="a", is_default="on"))
    response = admin_client.post(ADD, form(acme, provider="b", is_default="on"))
    assert response.status_code == 302, response.content[:3000]
    assert list(
        ProviderConfig.objects.filter(is_default=True).values_list("provider", flat=True)
    ) == ["b"]


def test_delete_is_audited(admin_client, acme):
    admin_client.post(ADD, form(acme))
    config = ProviderConfig.objects.get()
    response = admin_client.post(
        f"/admin/apps_runtime/providerconfig/{config.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ProviderConfig.objects.exists()
    assert AuditEvent.objects.filter(action="provider_config.deleted").count() == 1
