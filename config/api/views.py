"""Views that belong to the API as a whole: health, version, the catch-all 404, CSRF failures."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.errors import (
    ServiceUnavailable,
    envelope_response,
    error_response,
    logged_if_outage,
    report,
    to_api_error,
)
from config.api.middleware import is_api_path


class HealthResponseSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()


class VersionResponseSerializer(serializers.Serializer[Any]):
    version = serializers.CharField()
    edition = serializers.CharField()
    server = serializers.CharField()


def server_version() -> str:
    try:
        return f"difyapi {version('difyapi')}"
    except PackageNotFoundError:
        return "difyapi unknown"


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(operation_id="health", responses={200: HealthResponseSerializer})
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class VersionView(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(operation_id="version", responses={200: VersionResponseSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "version": settings.DIFY_COMPAT_VERSION,
                "edition": "SELF_HOSTED",
                "server": server_version(),
            }
        )


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return envelope_response(404, "not found")


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: an unreachable database (a shutdown window) is a 503 with Retry-After,
    the envelope under ``/openapi/v1`` and a page elsewhere; anything else stays a 500."""
    exc = sys.exc_info()[1]
    error = to_api_error(exc) if exc is not None else None
    if not isinstance(error, ServiceUnavailable):
        if is_api_path(request.path):
            return envelope_response(500, "Internal Server Error")
        return defaults.server_error(request)
    report(error, exc or error, "server error")
    if is_api_path(request.path):
        return error_response(error)
    return service_unavailable_page(error)


def service_unavailable_page(error: ServiceUnavailable) -> HttpResponse:
    """The 503 page of a store outage. Rendered without the request: its context processors
    would query the database again."""
    page = render_to_string(
        "service_unavailable.html",
        {"message": error.message, "retry_after": error.retry_after},
    )
    return logged_if_outage(HttpResponse(page, status=503, headers=error.headers), error)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api_path(request.path):
        return envelope_response(403, "CSRF verification failed", code="csrf_failed")
    return render(request, "csrf_failure.html", {"reason": reason}, status=403)
