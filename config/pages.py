"""The front door at ``/``: what this service is and where to go next."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from config.api.views import server_version


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "home.html",
        {"server_version": server_version(), "dify_version": settings.DIFY_COMPAT_VERSION},
    )
