"""Wire helpers shared by every API view: timestamps, strict query parsing, list envelopes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import serializers

from config.api.errors import ApiError, validation_error

MAX_PAGE_LIMIT = 200


def iso_z(value: datetime | None) -> str | None:
    """ISO 8601 UTC with ``Z`` and second precision (decisions §9)."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_uuid(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def uuid_or_404(value: str, message: str) -> uuid.UUID:
    """A path id that is not a UUID cannot name anything: 404, never 500 (decisions §5)."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise ApiError(404, message)
    return parsed


def query_params(
    request: HttpRequest,
    serializer_class: type[serializers.Serializer[Any]],
    *,
    strict: bool = True,
) -> dict[str, Any]:
    """Validate the query string; with ``strict`` an unknown parameter is a 422.

    A repeated parameter keeps its first value (as the contract's flat query reading does).
    """
    raw = {key: request.GET.getlist(key)[0] for key in request.GET}
    serializer = serializer_class(data=raw)
    if strict:
        unknown = sorted(set(raw) - set(serializer.fields))
        if unknown:
            raise validation_error(
                [
                    {
                        "type": "extra_forbidden",
                        "loc": [name],
                        "msg": f"unknown query parameter: {name}",
                    }
                    for name in unknown
                ]
            )
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def page_rows(rows: QuerySet[Any], *, page: int, limit: int, total: int) -> list[Any]:
    """One page of ``rows``; a page past the end never reaches the database (a huge offset
    could overflow the database's integer)."""
    offset = (page - 1) * limit
    return list(rows[offset : offset + limit]) if offset < total else []


def page_envelope(
    rows: Sequence[Any] | Iterable[Any], *, page: int, limit: int, total: int
) -> dict[str, Any]:
    return {
        "page": page,
        "limit": limit,
        "total": total,
        "has_more": page * limit < total,
        "data": list(rows),
    }


def body_params(
    request: Any, serializer_class: type[serializers.Serializer[Any]]
) -> dict[str, Any]:
    """Validate a JSON body; a failure is the 422 envelope naming the field."""
    data = request.data
    if not isinstance(data, dict):
        raise validation_error(
            [{"type": "type_error", "loc": [], "msg": "the body must be a JSON object"}]
        )
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
