"""Absolute links to this site's pages (invitation, confirmation and device-login links)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def public_url(request: HttpRequest, path: str) -> str:
    """``PUBLIC_BASE_URL`` + ``path`` when set, else the request's own origin + ``path`` (behind
    trusted proxies ``SECURE_PROXY_SSL_HEADER`` makes ``X-Forwarded-Proto`` count)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + path
    return request.build_absolute_uri(path)


def site_origin(request: HttpRequest) -> str:
    """Where this site's links start, without a trailing slash."""
    return public_url(request, "/").rstrip("/")
