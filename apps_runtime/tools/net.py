"""Where a tool provider may point: the outbound client's rules (public addresses only, unless the
host is in ``HTTP_NODE_ALLOWED_HOSTS``), checked when a provider is saved and before each call."""

from __future__ import annotations

import httpx
from django.conf import settings

from apps_runtime.engine.outbound import OutboundError, host_is_allowed, vetted_addresses
from apps_runtime.tools.types import ToolError


def check_url(url: str) -> None:
    """Raise ``ToolError`` saying why ``url`` may not be called (scheme, private address)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ToolError(f"invalid URL {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ToolError(f"the URL {url!r} must start with http:// or https:// and name a host")
    if host_is_allowed(parsed.host):
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        vetted_addresses(parsed.host, port, settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS)
    except OutboundError as exc:
        raise ToolError(str(exc)) from None
