"""One way to serve a view under a second path: the colon-verb routes of later clients
(``/workspaces/{id}:switch``, ``/apps/{id}:run``) and the older shapes of a path
(``/apps/{id}`` for describe). Decisions §2: the slash-verb path is primary, the alias answers with
the very same handlers.
"""

from __future__ import annotations

from django.urls import URLPattern, re_path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.views import APIView


def alias_path(
    regex: str, view_class: type[APIView], *, name: str, **operation_ids: str
) -> URLPattern:
    """``re_path(regex, …)`` serving ``view_class`` unchanged.

    Each keyword names a method's operation id on the alias (``post="workspaces_switch_colon"``):
    the schema lists both paths without an operation-id collision. Nothing else differs.
    """
    if not operation_ids:
        raise ValueError("an alias needs an operation id per documented method")
    overrides = {
        method: extend_schema(operation_id=op_id) for method, op_id in operation_ids.items()
    }
    alias: type[APIView] = extend_schema_view(**overrides)(
        type(f"{view_class.__name__}Alias", (view_class,), {"__doc__": view_class.__doc__})
    )
    return re_path(regex, alias.as_view(), name=name)
