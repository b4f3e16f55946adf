"""Which endpoint a workspace's app uses (decisions §8)."""

from __future__ import annotations

import pytest

from apps_runtime.providers.models import ProviderConfig, provider_name
from apps_runtime.providers.selectors import provider_configured, provider_endpoint_for
from apps_runtime.providers.services import provider_config_save
from apps_runtime.providers.types import ProviderNotConfigured
from config.crypto import is_sealed

DSL_PROVIDER = "langgenius/openai_api_compatible/openai_api_compatible"


def make(workspace, provider, *, key="", default=False, url="https://llm.example/v1"):
    return provider_config_save(
        ProviderConfig(workspace=workspace, provider=provider, base_url=url, is_default=default),
        api_key=key,
    )


@pytest.fixture(autouse=True)
def no_environment_default(settings):
    settings.OPENAI_BASE_URL = ""
    settings.OPENAI_API_KEY = ""


def test_provider_name_is_the_last_segment():
    assert provider_name(DSL_PROVIDER) == "openai_api_compatible"
    assert provider_name("langgenius/openai/openai") == "openai"
    assert provider_name("openai") == "openai"


def test_nothing_configured_names_the_setting(acme):
    with pytest.raises(ProviderNotConfigured) as caught:
        provider_endpoint_for(acme, DSL_PROVIDER)
    assert caught.value.code == "provider_not_initialize"
    assert caught.value.status == 400
    assert "OPENAI_BASE_URL" in caught.value.message
    assert "admin" in caught.value.message
    assert provider_configured(acme, DSL_PROVIDER) is False


def test_environment_default(acme, settings):
    settings.OPENAI_BASE_URL = "http://env.example/v1"
    settings.OPENAI_API_KEY = "sk-env"
    ep = provider_endpoint_for(acme, DSL_PROVIDER)
    assert (ep.base_url, ep.api_key, ep.source) == (
        "http://env.example/v1",
        "sk-env",
        "environment",
    )
    assert "sk-env" not in repr(ep)


def test_workspace_default_beats_environment(acme, settings):
    settings.OPENAI_BASE_URL = "http://env.example/v1"
    make(acme, "some_other", key="sk-default", default=True, url="http://default.example/v1")
    ep = provider_endpoint_for(acme, DSL_PROVIDER)
    assert (ep.base_url, ep.api_key, ep.source) == (
        "http://default.example/v1",
        "sk-default",
        "workspace_default",
    )


def test_own_config_beats_workspace_default(acme):
    make(acme, "openai", key="sk-default", default=True, url="http://default.example/v1")
    own = make(acme, DSL_PROVIDER, key="sk-own", url="http://own.example/v1")
    assert own.provider == "openai_api_compatible"
    assert is_sealed(own.api_key) and "sk-own" not in own.api_key
    ep = provider_endpoint_for(acme, DSL_PROVIDER)
    assert (ep.base_url, ep.api_key, ep.source) == ("http://own.example/v1", "sk-own", "workspace")


def test_another_workspaces_config_is_never_used(acme, charlie):
    other = charlie.memberships.get().workspace
    make(other, DSL_PROVIDER, key="sk-charlie", default=True)
    with pytest.raises(ProviderNotConfigured):
        provider_endpoint_for(acme, DSL_PROVIDER)
    assert provider_endpoint_for(other, DSL_PROVIDER).api_key == "sk-charlie"


def test_one_default_per_workspace(acme):
    first = make(acme, "a", default=True)
    second = make(acme, "b", default=True)
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    assert provider_endpoint_for(acme, "zzz").base_url == second.base_url


def test_undecryptable_key_is_not_configured(acme, settings):
    make(acme, DSL_PROVIDER, key="sk-own")
    settings.SECRETS_ENCRYPTION_KEY = "x" * 43 + "="  # another valid Fernet key
    with pytest.raises(ProviderNotConfigured) as caught:
        provider_endpoint_for(acme, DSL_PROVIDER)
    assert "enter it again" in caught.value.message
