"""Text a client sends is checked once, at the edge: no NUL character, no unpaired surrogate.

JSON can spell both (``"\\u0000"``, ``"\\ud800"``); neither is storable text: PostgreSQL refuses a
NUL in ``text``/``jsonb`` and cannot encode a lone surrogate, SQLite and Redis streams fail on
the surrogate when encoding UTF-8. Left to the view they surface as a 500 (or an empty stream)
wherever the value is first written. So the JSON parser (every DRF route and the run endpoint's
own body parsing) refuses them with 422 ``invalid_param`` naming the field, and
:class:`ClientTextMiddleware` does the same for query parameters, form-encoded bodies and
request headers on every Django route (pages included).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from config.api.errors import ApiError, error_response, validation_error
from config.api.middleware import is_api_path

_BAD = re.compile("[\x00\ud800-\udfff]")
NOT_TEXT = "is not valid text (it contains a NUL character or an unpaired surrogate)"
_SHOWN_MAX = 64


def is_bad_text(value: str) -> bool:
    return _BAD.search(value) is not None


def shown(value: str) -> str:
    """A name safe to put in an error body (escaped, bounded)."""
    escaped = _BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", value[:_SHOWN_MAX])
    return escaped + ("…" if len(value) > _SHOWN_MAX else "")


def bad_text_loc(value: Any) -> list[str] | None:
    """Where in a decoded JSON value the first bad text is (keys included); None when clean.

    Iterative, like the depth check: the value is already bounded in size and depth.
    """
    stack: list[tuple[Any, list[str]]] = [(value, [])]
    while stack:
        item, loc = stack.pop()
        if isinstance(item, str):
            if is_bad_text(item):
                return loc
        elif isinstance(item, dict):
            for key, child in item.items():
                if is_bad_text(key):
                    return [*loc, shown(key)]
                stack.append((child, [*loc, key]))
        elif isinstance(item, list):
            stack.extend((child, [*loc, str(index)]) for index, child in enumerate(item))
    return None


class BadText(ApiError):
    """422 ``invalid_param``: a field's text has a NUL or an unpaired surrogate."""


def bad_text_error(loc: list[str], *, where: str = "body") -> ApiError:
    field = ".".join(loc) if loc else where
    error = validation_error(
        [{"type": "invalid_text", "loc": loc or [where], "msg": NOT_TEXT}],
        message=f"{field}: {NOT_TEXT}",
    )
    return BadText(error.status, error.message, code=error.code, details=error.details)


def _first_bad_pair(pairs: Iterable[tuple[str, str]]) -> str | None:
    for key, value in pairs:
        if is_bad_text(key) or is_bad_text(value):
            return shown(key)
    return None


def first_bad_field(fields: Any) -> str | None:
    """The first field of a ``QueryDict`` (any of its values) holding bad text."""
    return _first_bad_pair((key, value) for key, values in fields.lists() for value in values)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ClientTextMiddleware:
    """Query parameters, form fields and headers of every Django request, before any view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        bad = self._bad(request)
        if bad is not None:
            return error_response(bad)
        return self.get_response(request)

    @staticmethod
    def _bad(request: HttpRequest) -> ApiError | None:
        header = _first_bad_pair(
            (name[5:].replace("_", "-").title(), str(value))
            for name, value in request.META.items()
            if name.startswith("HTTP_")
        )
        if header is not None:
            return bad_text_error([header], where="header")
        query = first_bad_field(request.GET)
        if query is not None:
            return bad_text_error([query], where="query")
        content_type = request.META.get("CONTENT_TYPE", "")
        # A multipart body under /openapi/v1 is an upload: its view authenticates before anything
        # parses it, and its parser (config.api.parsers.CheckedMultiPartParser) checks the fields.
        if (
            request.method == "POST"
            and content_type.startswith(FORM_TYPES)
            and not (content_type.startswith(FORM_TYPES[1]) and is_api_path(request.path))
        ):
            field = first_bad_field(request.POST)
            if field is not None:
                return bad_text_error([field], where="form")
        return None
