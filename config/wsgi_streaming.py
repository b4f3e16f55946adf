"""The WSGI server does not serve the SSE routes (they live on daphne, config/asgi.py): a request
for one that reaches it answers a 404 that names the ASGI server and the proxy split (issue 22),
instead of Django's bare "not found"."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from config.api.errors import envelope
from config.api.renderers import render_json

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MESSAGE = "this streaming route is served by the ASGI server (daphne), not by this WSGI server"


def hint() -> str:
    port = os.environ.get("SERVE_ASGI_PORT") or "8001"
    return (
        "send the run and re-attach routes (/apps/{id}/run, /apps/{id}:run, "
        f"/apps/{{id}}/tasks/{{task}}/events) to daphne (make serve-prod: port {port}) and "
        "everything else to gunicorn; the README's Production section has the proxy sample"
    )


def is_streaming_path(path: str) -> bool:
    from apps_runtime.routing import sse_patterns

    relative = path.lstrip("/")
    return any(pattern.pattern.match(relative) for pattern in sse_patterns)


class WSGIStreamingPathHint:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not is_streaming_path(str(environ.get("PATH_INFO", ""))):
            return self.app(environ, start_response)
        body = render_json(envelope(404, MESSAGE, code="not_found", hint=hint()))
        start_response(
            "404 Not Found",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
