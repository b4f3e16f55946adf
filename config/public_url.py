"""Every absolute link the service writes (device login, invitations, address confirmations,
emailed forms, commands' output) starts here (issue 22 item 4).

``PUBLIC_BASE_URL`` when set; else the origin of the request being answered (so ``make run
PORT=9000`` gives links on port 9000); else, with no request (a job mailing a form, a command),
where the server was started (``FORM_LINK_BASE_URL``'s default, from ``SERVE_HOST`` and
``SERVE_PORT`` / ``SERVE_WSGI_PORT``; config/settings.py).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def link_base_url(request: HttpRequest | None = None) -> str:
    """Where this site's links start, without a trailing slash."""
    if settings.PUBLIC_BASE_URL:
        return str(settings.PUBLIC_BASE_URL)
    if request is not None:
        # Behind trusted proxies SECURE_PROXY_SSL_HEADER makes X-Forwarded-Proto count.
        return request.build_absolute_uri("/").rstrip("/")
    return str(settings.FORM_LINK_BASE_URL)


def public_url(request: HttpRequest | None, path: str) -> str:
    return link_base_url(request) + path


def site_origin(request: HttpRequest) -> str:
    return link_base_url(request)
