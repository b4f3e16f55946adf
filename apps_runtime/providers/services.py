"""Writes to provider configurations: one transaction and one audit record each. The API key is
sealed here and nowhere else, and never appears in an audit record or a log line."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from apps_runtime.providers.models import ProviderConfig, provider_name
from config.crypto import seal


def provider_config_save(
    config: ProviderConfig,
    *,
    api_key: str | None = None,
    clear_api_key: bool = False,
    actor: Actor | None = None,
) -> ProviderConfig:
    """Create or update ``config``. ``api_key``: a new key (sealed before it is stored); ``None``
    or ``""`` keeps the stored one; ``clear_api_key`` removes it. Making a config the workspace
    default takes the flag from the workspace's previous default."""
    created = config._state.adding
    config.provider = provider_name(config.provider)
    config.base_url = config.base_url.strip()
    key_changed = False
    new_key = (api_key or "").strip()
    if clear_api_key:
        key_changed = bool(config.api_key)
        config.api_key = ""
    elif new_key:
        config.api_key = seal(new_key)
        key_changed = True
    config.updated_at = timezone.now()
    with transaction.atomic():
        if config.is_default:
            ProviderConfig.objects.filter(
                workspace_id=config.workspace_id, is_default=True
            ).exclude(pk=config.pk).update(is_default=False, updated_at=config.updated_at)
        config.save()
        audit_record(
            "provider_config.created" if created else "provider_config.updated",
            actor=actor or Actor.system(),
            **_details(config, api_key_changed=key_changed),
        )
    return config


def provider_config_delete(config: ProviderConfig, *, actor: Actor | None = None) -> None:
    with transaction.atomic():
        details = _details(config)
        config.delete()
        audit_record(
            "provider_config.deleted",
            actor=actor or Actor.system(),
            **details,
        )


def _details(config: ProviderConfig, **extra: Any) -> dict[str, Any]:
    return {
        "provider_config_id": str(config.pk),
        "workspace_id": str(config.workspace_id),
        "provider": config.provider,
        "base_url": config.base_url,
        "is_default": config.is_default,
        **extra,
    }
