"""HTTP routes served by Channels consumers (the SSE endpoints of the run engine).

Paths are matched without their leading slash; anything else falls through to Django.
"""

from typing import Any

from django.urls import re_path

from apps_runtime.runs.consumers import EventsConsumer, RunConsumer

sse_patterns: list[Any] = [
    re_path(r"^openapi/v1/apps/(?P<app_id>[^/:]+)/run$", RunConsumer.as_asgi()),
    re_path(r"^openapi/v1/apps/(?P<app_id>[^/:]+):run$", RunConsumer.as_asgi()),
    re_path(
        r"^openapi/v1/apps/(?P<app_id>[^/]+)/tasks/(?P<task_id>[^/:]+)/events$",
        EventsConsumer.as_asgi(),
    ),
]
