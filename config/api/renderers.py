"""One JSON renderer for every body under ``/openapi/v1``: DRF views, the error envelope the
boundary middleware writes, and the ASGI body guard all produce the same bytes for the same data
(compact separators, UTF-8, no ASCII escaping)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

CONTENT_TYPE = "application/json"


class ApiJSONRenderer(JSONRenderer):
    """DRF's renderer, named here so settings and hand-built responses share one instance."""


_RENDERER = ApiJSONRenderer()


def render_json(data: Any) -> bytes:
    return _RENDERER.render(data)


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """A plain Django response with a JSON body rendered as DRF views render theirs."""
    response = HttpResponse(render_json(data), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
