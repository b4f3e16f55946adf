"""Which provider endpoint a run uses (decisions §8).

Resolution for an app in a workspace: the workspace's configuration for the app's provider →
the workspace's default configuration → ``settings.OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` →
``ProviderNotConfigured`` (400 ``provider_not_initialize``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Q

from apps_runtime.providers.client import ProviderEndpoint
from apps_runtime.providers.models import ProviderConfig, provider_name
from apps_runtime.providers.types import ProviderNotConfigured
from config.crypto import unseal
from workspaces.models import Workspace


def provider_endpoint_for(
    workspace: Workspace | uuid.UUID | str, provider: str
) -> ProviderEndpoint:
    """The endpoint for ``provider`` (a DSL provider such as
    ``langgenius/openai_api_compatible/openai_api_compatible``, or just its last segment) in
    ``workspace``; raises ``ProviderNotConfigured`` naming the settings to set."""
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    name = provider_name(provider or "")
    configs = {
        config.provider: config
        for config in ProviderConfig.objects.filter(
            Q(provider=name) | Q(is_default=True), workspace_id=workspace_id
        )
    }
    own = configs.get(name)
    if own is not None:
        return _endpoint(own, name, "workspace")
    default = next((c for c in configs.values() if c.is_default), None)
    if default is not None:
        return _endpoint(default, name, "workspace_default")
    if settings.OPENAI_BASE_URL:
        return ProviderEndpoint(
            provider=name,
            base_url=settings.OPENAI_BASE_URL,
            api_key=settings.OPENAI_API_KEY,
            source="environment",
        )
    shown = name or "(none)"
    raise ProviderNotConfigured(
        f"No model provider is configured for {shown!r}: set OPENAI_BASE_URL (and OPENAI_API_KEY) "
        "for the server, or add a provider configuration for this workspace in the admin."
    )


def provider_configured(workspace: Workspace | uuid.UUID | str, provider: str) -> bool:
    """Whether :func:`provider_endpoint_for` would find an endpoint."""
    try:
        provider_endpoint_for(workspace, provider)
    except ProviderNotConfigured:
        return False
    return True


def _endpoint(config: ProviderConfig, name: str, source: str) -> ProviderEndpoint:
    try:
        api_key = unseal(config.api_key) if config.api_key else ""
    except ValueError:
        # SECRETS_ENCRYPTION_KEY changed since the key was stored: the operator must re-enter it.
        raise ProviderNotConfigured(
            f"The API key stored for provider {config.provider!r} cannot be decrypted with the "
            "configured SECRETS_ENCRYPTION_KEY: enter it again in the admin."
        ) from None
    return ProviderEndpoint(
        provider=name,
        base_url=config.base_url,
        api_key=api_key,
        models=tuple(str(m) for m in config.model_names or []),
        source=source,
    )
