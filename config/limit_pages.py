"""HTML answers for limits on the server-rendered pages (device approval, login)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.api.ratelimit import LimiterUnavailable


def limiter_unavailable_page(request: HttpRequest, exc: LimiterUnavailable) -> HttpResponse:
    """503 with ``Retry-After``: a limit guarding a secret cannot count, so nothing is tried."""
    response = render(
        request, "limiter_unavailable.html", {"retry_after": exc.retry_after}, status=503
    )
    response["Retry-After"] = str(exc.retry_after)
    return response
