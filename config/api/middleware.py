"""The boundary of ``/openapi/v1``: whatever goes wrong there is answered as the JSON envelope.

DRF views render their own errors; this middleware covers what never reaches a view or escapes it:
oversize bodies (413), Django's own HTML error pages (404, 500, CSRF), and exceptions raised with
``DEBUG`` on (which would otherwise show a traceback page). It also adds the anti-framing headers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from config.api.errors import (
    ServiceUnavailable,
    envelope_response,
    error_response,
    is_database_outage,
    report,
    to_api_error,
)

logger = logging.getLogger("difyapi.errors")

API_PREFIX = "/openapi/v1"


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


# The file-upload routes (uploads/urls.py) take a file, not a JSON body: they get their own limit.
UPLOAD_PATH = re.compile(r"^/openapi/v1/apps/[^/]+/files(?:/upload)?$")


def request_body_limit(method: str, path: str) -> int:
    """The request body limit of a route: ``MAX_REQUEST_BODY_BYTES``, or for the upload routes
    ``UPLOAD_MAX_BYTES`` plus the multipart overhead. The ASGI guard and this middleware agree."""
    if method.upper() == "POST" and UPLOAD_PATH.match(path):
        return int(settings.UPLOAD_MAX_BYTES + settings.UPLOAD_MULTIPART_OVERHEAD_BYTES)
    return int(settings.MAX_REQUEST_BODY_BYTES)


def too_large_hint(method: str, path: str) -> str:
    """What a 413 tells the user: the route's limit, in bytes and MiB, and the setting behind it."""
    limit = request_body_limit(method, path)
    upload = method.upper() == "POST" and bool(UPLOAD_PATH.match(path))
    setting = "UPLOAD_MAX_BYTES" if upload else "MAX_REQUEST_BODY_BYTES"
    return f"the limit here is {limit} bytes ({human_size(limit)}, {setting})"


def human_size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size // 1024} KiB"


TOO_LARGE = "request body too large"


class OpenAPIBoundaryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api_path(request.path):
            response = self.get_response(request)
            _add_frame_headers(response)
            return response
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            too_big = int(length) > request_body_limit(request.method or "", request.path)
        except ValueError:
            too_big = False
        if too_big:
            api_response: HttpResponseBase = envelope_response(
                413, TOO_LARGE, hint=too_large_hint(request.method or "", request.path)
            )
        else:
            api_response = self._json_only(self.get_response(request))
        _add_frame_headers(api_response)
        return api_response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            if isinstance(exception, DatabaseError) and is_database_outage(exception):
                # A page during a database outage: the 503 page, one warning per interval.
                from config.api.views import service_unavailable_page

                error = to_api_error(exception)
                assert isinstance(error, ServiceUnavailable)
                report(error, exception, "database outage")
                return service_unavailable_page(error)
            return None
        error = to_api_error(exception)
        report(error, exception, "unhandled error under /openapi/v1")
        return error_response(error)

    @staticmethod
    def _json_only(response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code < 400 or getattr(response, "streaming", False):
            return response
        if getattr(response, "browser_page", False):
            # A page a browser is sent to under the API prefix (the device flow's SSO branch).
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json"):
            return response
        status = response.status_code
        message = {404: "not found", 405: "method not allowed", 403: "forbidden"}.get(
            status, "request failed"
        )
        replacement = envelope_response(status, message)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


def _add_frame_headers(response: HttpResponseBase) -> None:
    if "X-Frame-Options" not in response:
        response["X-Frame-Options"] = "DENY"
    if "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
