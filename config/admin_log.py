"""The admin's "Recent actions" and each object's history come from ``LogEntry`` rows, which
``ModelAdmin`` writes only around its own save and delete. Actions and views whose writes go
through the services (stop a run, disable an account, import a DSL file …) log here too (issue 22).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest

F = TypeVar("F", bound=Callable[..., Any])


def logged_action(func: F) -> F:
    """Under ``@admin.action``: one ``LogEntry`` per selected object, naming the action."""

    @functools.wraps(func)
    def wrapper(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        selected = list(queryset)
        result = func(modeladmin, request, queryset)
        description = getattr(wrapper, "short_description", func.__name__.replace("_", " "))
        if selected and request.user.pk is not None:
            # As they are now (a stopped run's name says "stopped"), where they still exist.
            manager = queryset.model._default_manager
            after = list(manager.filter(pk__in=[obj.pk for obj in selected])) or selected
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=after,
                action_flag=CHANGE,
                change_message=f"Action: {description}",
            )
        return result

    return wrapper  # type: ignore[return-value]
