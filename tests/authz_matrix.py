"""Plumbing of the authorization matrix (``tests/test_authorization_matrix.py``).

Walks the URL configuration (Django's resolver and the Channels ``sse_patterns``) into route
templates such as ``GET /openapi/v1/apps/{app_id}/describe``; the test module holds the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "openapi/v1"
# Methods whose answer the matrix does not check: HEAD follows GET and OPTIONS is DRF metadata.
_SKIPPED_METHODS = {"head", "options", "trace"}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    method: str  # "GET", "POST", … (upper case)
    template: str  # "/openapi/v1/apps/{app_id}/describe"
    kind: str  # "django" (WSGI/ASGI Django view) or "sse" (a Channels consumer)
    params: tuple[str, ...] = field(default=())
    callback: Any = field(default=None, compare=False, hash=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _regex_to_template(regex: str) -> str:
    """``^apps/(?P<app_id>[^/]+)/describe$`` → ``apps/{app_id}/describe`` (nesting-aware)."""
    regex = regex.removeprefix("^").removesuffix("$").removesuffix("\\Z")
    out: list[str] = []
    i = 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            name_end = regex.index(">", i)
            name = regex[i + 4 : name_end]
            depth, j = 1, name_end + 1
            while depth:
                if regex[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(regex[j], 0)
                j += 1
            out.append("{" + name + "}")
            i = j
        else:
            out.append(regex[i])
            i += 1
    return "".join(out)


def _piece(pattern: Any) -> str:
    text = str(pattern)
    if pattern.__class__.__name__ == "RegexPattern":
        return _regex_to_template(text)
    return _CONVERTER.sub(r"{\1}", text)


def _methods_of(callback: Any) -> list[str] | None:
    """The HTTP methods a Django view implements; ``None`` when it does not say (a function)."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return None
    return [
        name.upper()
        for name in view_class.http_method_names
        if name not in _SKIPPED_METHODS and hasattr(view_class, name)
    ]


def _walk_django(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        here = prefix + _piece(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk_django(entry.url_patterns, here)
        elif isinstance(entry, URLPattern):
            yield here, entry.callback


def _walk_channels(routes: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for entry in routes:
        here = prefix + _piece(entry.pattern)
        inner = getattr(entry.callback, "routes", None)  # a nested URLRouter
        if inner is not None:
            yield from _walk_channels(inner, here)
        else:
            yield here, entry.callback


def _template(raw: str) -> str:
    return "/" + raw.lstrip("/")


def _params(template: str) -> tuple[str, ...]:
    return tuple(re.findall(r"{(\w+)}", template))


def django_routes() -> list[Route]:
    """Every Django route under /openapi/v1, one per implemented method."""
    routes: list[Route] = []
    for raw, callback in _walk_django(get_resolver().url_patterns, ""):
        template = _template(raw)
        if not template.startswith("/" + API_PREFIX):
            continue
        for method in _methods_of(callback) or ["GET"]:
            routes.append(Route(method, template, "django", _params(template), callback))
    return routes


def sse_routes(table: Iterable[str]) -> list[Route]:
    """Every path the ASGI router sends to a Channels consumer, once per method the table gives
    for it (a consumer does not declare its methods); a path with no row comes back as ``ANY``."""
    from apps_runtime.routing import sse_patterns

    keys = list(table)
    routes: list[Route] = []
    for raw, _ in _walk_channels(list(sse_patterns), ""):
        template = _template(raw)
        methods = [k.split(" ", 1)[0] for k in keys if k.split(" ", 1)[1] == template]
        for method in methods or ["ANY"]:
            routes.append(Route(method, template, "sse", _params(template)))
    return routes
