"""One error vocabulary for the whole API (decisions §5).

``ApiError`` carries a stable ``code``, an HTTP ``status``, a plain ``message`` and optional
``hint``/``details``/headers. ``api_exception_handler`` renders every exception raised inside a
DRF view into the canonical envelope ``{code, message, status, hint?, details?}``; the boundary
middleware uses :func:`error_response` for the failures that never reach a view. Every limiter
answers with :class:`RateLimited` (429 ``too_many_requests`` and ``Retry-After``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, HttpResponseBase
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from config.api.renderers import json_response

logger = logging.getLogger("difyapi.errors")

CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    422: "invalid_param",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
}

BEARER_CHALLENGE = 'Bearer realm="api"'
INVALID_TOKEN_CHALLENGE = 'Bearer realm="api", error="invalid_token"'
INSUFFICIENT_SCOPE_CHALLENGE = 'Bearer realm="api", error="insufficient_scope"'


class ApiError(Exception):
    """An error with a stable code that the handler renders as the contract's envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODE_BY_STATUS.get(status, "unknown")
        self.hint = hint
        self.details = details
        self.headers = dict(headers or {})
        # A pre-built body bypasses the envelope (per-token 429, RFC 8628 device errors).
        self.body = body

    def payload(self) -> dict[str, Any]:
        if self.body is not None:
            return self.body
        return envelope(
            self.status, self.message, code=self.code, hint=self.hint, details=self.details
        )


class RateLimited(ApiError):
    """429 ``too_many_requests`` with ``Retry-After``: the one answer of every limiter.

    ``hint`` says which limit tripped when that helps the user ("too many wrong codes").
    ``token_body`` adds the per-token limiter's extra fields (``error``, ``retry_after_ms``,
    decisions §5) to the envelope. Pages catch it too and render their own 429 page.
    """

    def __init__(
        self, retry_after: int | float, *, hint: str | None = None, token_body: bool = False
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            429,
            "rate_limited",
            code="too_many_requests",
            hint=hint,
            headers={"Retry-After": str(self.retry_after)},
        )
        if token_body:
            self.body = {
                **envelope(429, "rate_limited", code="too_many_requests", hint=hint),
                "error": "rate_limited",
                "retry_after_ms": self.retry_after * 1000,
            }


class ServiceUnavailable(ApiError):
    """503 ``service_unavailable`` with ``Retry-After`` (header and ``retry_after`` in the body):
    a store the request needs (the database, the event log) cannot be reached right now."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        self.retry_after = max(1, retry_after or settings.SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS)
        super().__init__(
            503,
            message,
            hint=f"try again in {self.retry_after} seconds",
            headers={"Retry-After": str(self.retry_after)},
        )
        self.body = {**envelope(503, message, hint=self.hint), "retry_after": self.retry_after}


DATABASE_UNAVAILABLE = "the database is unavailable, try again shortly"


def is_database_outage(exc: BaseException) -> bool:
    """A database that cannot be reached or went away (shutdown, restart, killed connection, a
    lock or deadlock to retry), as opposed to a query it refused (``IntegrityError`` …) or a
    broken schema: a retry may succeed."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("sqlite3"):
        text = str(cause)  # an outage, not a broken schema ("no such table")
        return any(word in text for word in ("locked", "busy", "unable to open", "disk I/O"))
    return True


def report(error: ApiError, exc: BaseException, where: str) -> None:
    """Log a failure answered with ``error``: an outage (503) once per interval as one warning,
    any other server error with its traceback."""
    if isinstance(error, ServiceUnavailable):
        from config.outage import warn_outage

        # "the database is unavailable, try again shortly" -> "the database is unavailable"
        warn_outage(logger, error.message.split(",")[0], exc.__cause__ or exc, "answering 503")
    elif error.status >= 500:
        logger.exception(where, exc_info=exc)


def envelope(
    status: int,
    message: str,
    *,
    code: str | None = None,
    hint: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code or CODE_BY_STATUS.get(status, "unknown"),
        "message": "Internal Server Error" if status >= 500 and status != 503 else message,
        "status": status,
    }
    if hint:
        body["hint"] = hint
    if details:
        body["details"] = details
    return body


def envelope_response(status: int, message: str, **kwargs: Any) -> HttpResponse:
    """The envelope as a plain Django response, for failures that never reach a DRF view."""
    return error_response(ApiError(status, message, **kwargs))


def error_response(error: ApiError) -> HttpResponse:
    response = json_response(error.payload(), status=error.status, headers=error.headers)
    return logged_if_outage(response, error)


R = TypeVar("R", bound=HttpResponseBase)


def logged_if_outage(response: R, error: ApiError) -> R:
    """An outage's 503 was logged by :func:`report` (once per interval): keep Django's request
    logger from adding an error line per response (it skips responses marked as logged)."""
    if isinstance(error, ServiceUnavailable):
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def validation_error(
    details: list[dict[str, Any]], message: str | None = None, *, status: int = 422
) -> ApiError:
    """``invalid_param`` (422 unless the route says otherwise); the message names the first
    failing field in plain words."""
    if message is None:
        first = details[0] if details else None
        message = (
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            if first and first.get("loc")
            else (first["msg"] if first else "Request validation failed")
        )
    return ApiError(status, message, code="invalid_param", details=details)


def serializer_error(errors: Any, *, status: int = 422) -> ApiError:
    """The envelope for a DRF serializer's ``errors`` (or a ``ValidationError.detail``)."""
    return validation_error(_flatten_drf_detail(errors, []), status=status)


def _flatten_drf_detail(detail: Any, loc: list[str]) -> list[dict[str, Any]]:
    if isinstance(detail, Mapping):
        out: list[dict[str, Any]] = []
        for key, value in detail.items():
            sub = [] if key == "non_field_errors" else [str(key)]
            out.extend(_flatten_drf_detail(value, loc + sub))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            nested = isinstance(value, (Mapping, list))
            out.extend(_flatten_drf_detail(value, [*loc, str(index)] if nested else loc))
        return out
    code = getattr(detail, "code", None) or "invalid"
    return [{"type": str(code), "loc": loc, "msg": str(detail)}]


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF exception handler: every failure becomes the canonical envelope, never HTML."""
    error = to_api_error(exc)
    report(error, exc, "unhandled error in API view")
    response = Response(error.payload(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return logged_if_outage(response, error)


def to_api_error(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, drf_exceptions.ValidationError):
        return serializer_error(exc.detail)
    if isinstance(exc, drf_exceptions.ParseError):
        return ApiError(
            400, "Invalid JSON payload received or JSON payload is empty.", code="bad_request"
        )
    if isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        return ApiError(401, str(exc.detail), headers={"WWW-Authenticate": BEARER_CHALLENGE})
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return ApiError(405, str(exc.detail))
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return ApiError(415, str(exc.detail))
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return ApiError(406, str(exc.detail))
    if isinstance(exc, drf_exceptions.Throttled):
        return RateLimited(getattr(exc, "wait", None) or 1)
    if isinstance(exc, (Http404, drf_exceptions.NotFound)):
        return ApiError(404, "not found")
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return ApiError(403, str(exc.detail))
    if isinstance(exc, RequestDataTooBig):
        return ApiError(413, "request body too large")
    if isinstance(exc, drf_exceptions.APIException):
        return ApiError(exc.status_code, str(exc.detail))
    if isinstance(exc, DatabaseError) and is_database_outage(exc):
        return ServiceUnavailable(DATABASE_UNAVAILABLE)
    return ApiError(500, "Internal Server Error")
