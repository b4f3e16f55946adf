"""Test factories for the app catalog: apps, tags, prompt configs and workflow versions.

They build rows directly (no DSL import): tests choose exactly the inputs and features of an app.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import factory
from django.utils import timezone

from apps_runtime.models import App, AppMode, AppModelConfig, Tag, WorkflowVersion
from workspaces.models import Workspace

_clock = itertools.count()
_BASE_TIME = timezone.now().replace(microsecond=0) - timedelta(days=30)


def next_time() -> datetime:
    """Strictly increasing timestamps, a second apart: later factories make newer apps."""
    return _BASE_TIME + timedelta(seconds=next(_clock))


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"App {n}")
    description = factory.LazyAttribute(lambda o: f"{o.name} description")
    mode = AppMode.CHAT
    enable_api = True
    status = App.Status.NORMAL
    access_mode = App.AccessMode.PRIVATE_ALL
    created_at = factory.LazyFunction(next_time)
    updated_at = factory.LazyAttribute(lambda o: o.created_at)

    @factory.post_generation
    def tags(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        """``tags=["prod", "beta"]`` attaches workspace tags by name (created when missing)."""
        if not create or not extracted:
            return
        for name in extracted:
            tag, _ = Tag.objects.get_or_create(workspace=self.workspace, name=name)
            self.tags.add(tag)


def start_variable(variable: str, type_: str = "text-input", **extra: Any) -> dict[str, Any]:
    """One start-node variable as a Dify export writes it."""
    return {
        "variable": variable,
        "label": extra.pop("label", variable.replace("_", " ").title()),
        "type": type_,
        "required": extra.pop("required", False),
        "max_length": extra.pop("max_length", 48),
        "options": extra.pop("options", []),
        **extra,
    }


def form_row(variable: str, type_: str = "text-input", **extra: Any) -> dict[str, Any]:
    """One ``user_input_form`` row of a prompt app: ``{type: {variable, label, required, ...}}``."""
    body = start_variable(variable, type_, **extra)
    body.pop("type")
    return {type_: body}


def start_graph(variables: list[dict[str, Any]], *, terminal: str = "end") -> dict[str, Any]:
    """A minimal graph: start → end (workflow) or start → answer (advanced-chat)."""
    return {
        "nodes": [
            {
                "id": "start",
                "type": "custom",
                "data": {"type": "start", "title": "Start", "variables": variables},
            },
            {
                "id": terminal,
                "type": "custom",
                "data": {"type": terminal, "title": terminal.title(), "outputs": []},
            },
        ],
        "edges": [
            {
                "id": "start-to-end",
                "source": "start",
                "target": terminal,
                "sourceHandle": "source",
                "targetHandle": "target",
            }
        ],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


def make_prompt_app(
    workspace: Workspace,
    *,
    mode: str = AppMode.CHAT,
    form: list[dict[str, Any]] | None = None,
    config: dict[str, Any] | None = None,
    **app_fields: Any,
) -> App:
    """A chat / completion / agent-chat app with a ``model_config`` holding ``form``."""
    app = AppFactory(workspace=workspace, mode=mode, **app_fields)
    body = {
        "pre_prompt": "You are helpful.",
        "model": {
            "provider": "openai",
            "name": "gpt-4o-mini",
            "mode": "chat",
            "completion_params": {},
        },
        "user_input_form": form or [],
        **(config or {}),
    }
    AppModelConfig.objects.create(app=app, config=body)
    return app


def make_workflow_app(
    workspace: Workspace,
    *,
    mode: str = AppMode.WORKFLOW,
    variables: list[dict[str, Any]] | None = None,
    features: dict[str, Any] | None = None,
    published: bool = True,
    **app_fields: Any,
) -> App:
    """A workflow / advanced-chat app whose published version starts with ``variables``."""
    app = AppFactory(workspace=workspace, mode=mode, **app_fields)
    terminal = "answer" if mode == AppMode.ADVANCED_CHAT else "end"
    version = WorkflowVersion.objects.create(
        app=app,
        version="2026-01-01 00:00:00" if published else WorkflowVersion.DRAFT,
        graph=start_graph(variables or [], terminal=terminal),
        features=features or {},
        published_at=timezone.now() if published else None,
    )
    if published:
        App.objects.filter(pk=app.pk).update(published_workflow=version)
        app.published_workflow = version
    return app
