"""Content negotiation that never answers 406: Dify ignores ``Accept`` on JSON routes, and so do we.

An ``Accept`` that names one of a view's renderers still picks it (the schema view serves YAML or
JSON); anything else gets the view's first renderer instead of an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

_PLAIN_ACCEPT = frozenset({"", "*/*", "application/json"})


class LenientContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, Any]:
        candidates = list(renderers)
        # The common case, decided without parsing Accept (a measurable share of a bearer GET).
        if len(candidates) == 1 and format_suffix is None:
            if request.META.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPT:
                return candidates[0], candidates[0].media_type
        try:
            return super().select_renderer(request, candidates, format_suffix)
        except NotAcceptable:
            return candidates[0], candidates[0].media_type
