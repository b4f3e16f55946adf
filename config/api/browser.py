"""The browser middleware (sessions, CSRF, auth, messages, framing) runs for pages, not the API.

A bearer or anonymous call under ``/openapi/v1`` reads no cookie, has no session and no CSRF token:
running that machinery cost about a quarter of such a request's time. This middleware builds the
stack listed in ``settings.BROWSER_MIDDLEWARE`` as Django would (same order, same hooks) and runs
it for every path except the API paths that authenticate by bearer or not at all. The API routes
that do take a browser session (device approve/deny) are listed in
``settings.SESSION_API_PATHS``; ``tests/test_browser_middleware.py`` checks that list against the
views' authentication classes, so a new session route cannot be left out silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

from config.api.middleware import is_api_path

Handler = Callable[[HttpRequest], HttpResponseBase]


def needs_browser_stack(path: str) -> bool:
    return not is_api_path(path) or path in settings.SESSION_API_PATHS


class BrowserOnlyMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self._view: list[Callable[..., Any]] = []
        self._template_response: list[Callable[..., Any]] = []
        self._exception: list[Callable[..., Any]] = []
        handler: Handler = get_response
        # The same construction as django.core.handlers.base.BaseHandler.load_middleware.
        for path in reversed(settings.BROWSER_MIDDLEWARE):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception.append(instance.process_exception)
            handler = convert_exception_to_response(instance)  # type: ignore[assignment]
        self._browser = handler

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if needs_browser_stack(request.path):
            return self._browser(request)
        response = self.get_response(request)
        # CommonMiddleware's one effect that API answers keep.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        if needs_browser_stack(request.path):
            for hook in self._view:
                response = hook(request, view, args, kwargs)
                if response is not None:
                    return response  # type: ignore[no-any-return]
        return None

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        if needs_browser_stack(request.path):
            for hook in self._template_response:
                response = hook(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if needs_browser_stack(request.path):
            for hook in self._exception:
                response = hook(request, exception)
                if response is not None:
                    return response
        return None
