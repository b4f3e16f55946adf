"""Writes to tool providers: one transaction and one audit record each. Credentials (an API key,
MCP headers) are sealed here and nowhere else and never reach an audit record or a log line. A
provider's address is checked when it is saved (and again at every call)."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.net import check_url
from apps_runtime.tools.types import ToolError
from config.crypto import seal


class ToolProviderInvalid(ValueError):
    """The provider cannot be saved as given; the message says why."""


def _prepare_api(provider: ToolProvider) -> None:
    from apps_runtime.tools.openapi import SchemaError, parse_schema

    try:
        server, tools = parse_schema(provider.schema)
    except SchemaError as exc:
        raise ToolProviderInvalid(str(exc)) from None
    url = provider.server_url or server
    if not url:
        raise ToolProviderInvalid("the schema names no server URL; set the server URL")
    try:
        check_url(url)
    except ToolError as exc:
        raise ToolProviderInvalid(exc.message) from None
    provider.tools = [{**tool, "server": url} for tool in tools]
    provider.tools_refreshed_at = timezone.now()


def tool_provider_prepare(provider: ToolProvider, *, headers: dict[str, str] | None = None) -> None:
    """Check ``provider`` and fill in its tool list (no write); ``ToolProviderInvalid``.
    ``headers``: MCP headers about to be stored (``None``: the stored ones)."""
    provider.name = provider.name.strip()
    if not provider.name and provider.kind == ToolProvider.Kind.WORKFLOW and provider.workflow_app:
        provider.name = provider.workflow_app.name
    if not provider.name:
        raise ToolProviderInvalid("a provider needs a name")
    if provider.kind == ToolProvider.Kind.API:
        _prepare_api(provider)
    elif provider.kind == ToolProvider.Kind.MCP:
        from apps_runtime.tools.mcp import prepare_mcp

        try:
            prepare_mcp(provider, headers)
        except ToolError as exc:
            raise ToolProviderInvalid(exc.message) from None
    elif provider.kind == ToolProvider.Kind.WORKFLOW:
        from apps_runtime.tools.workflow import prepare_workflow

        try:
            prepare_workflow(provider)
        except ToolError as exc:
            raise ToolProviderInvalid(exc.message) from None
    else:
        raise ToolProviderInvalid(f"{provider.get_kind_display()} providers are not supported yet")


def tool_provider_save(
    provider: ToolProvider,
    *,
    secret: str | None = None,
    clear_secret: bool = False,
    headers: dict[str, str] | None = None,
    actor: Actor | None = None,
) -> ToolProvider:
    """Create or update ``provider`` after checking it (``ToolProviderInvalid``). ``secret``:
    a new API key (api) ; ``headers``: new request headers (mcp); ``None`` keeps what is stored."""
    created = provider._state.adding
    tool_provider_prepare(provider, headers=headers)
    changed = False
    if clear_secret:
        changed = bool(provider.credentials)
        provider.credentials = ""
    elif headers is not None:
        provider.credentials = seal(json.dumps(headers)) if headers else ""
        changed = True
    elif secret:
        provider.credentials = seal(secret.strip())
        changed = True
    provider.updated_at = timezone.now()
    with transaction.atomic():
        provider.save()
        audit_record(
            "tool_provider.created" if created else "tool_provider.updated",
            actor=actor or Actor.system(),
            **_details(provider, credentials_changed=changed),
        )
    return provider


def tool_provider_delete(provider: ToolProvider, *, actor: Actor | None = None) -> None:
    with transaction.atomic():
        details = _details(provider)
        provider.delete()
        audit_record("tool_provider.deleted", actor=actor or Actor.system(), **details)


def _details(provider: ToolProvider, **extra: Any) -> dict[str, Any]:
    return {
        "tool_provider_id": str(provider.pk),
        "workspace_id": str(provider.workspace_id),
        "name": provider.name,
        "kind": str(provider.kind),
        "tools": len(provider.tools or []),
        **extra,
    }
