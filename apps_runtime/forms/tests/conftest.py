"""A paused run with its form, made the way the run job makes them (``runflow.pause_events``)
but without running the engine: these tests are about the form endpoints themselves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from apps_runtime.tests.factories import AppFactory


@dataclass
class PauseSpec:
    """What the engine reports when a run reaches a human-input node."""

    node_id: str = "review"
    node_title: str = "Review"
    form_content: str = "Please review {{#$output.comment#}}"
    inputs: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "type": "paragraph",
                "output_variable_name": "comment",
                "default": {"type": "constant", "selector": [], "value": "looks fine"},
            }
        ]
    )
    actions: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": "approve", "title": "Approve", "button_style": "primary"},
            {"id": "reject", "title": "Reject", "button_style": "default"},
        ]
    )
    timeout_seconds: float = 3600
    delivery_methods: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "w", "enabled": True, "type": "webapp"}]
    )


@dataclass
class Paused:
    run: Any
    form: Any
    token: str | None
    events: list[dict[str, Any]]


@pytest.fixture
def workflow_app(acme: Any) -> Any:
    return AppFactory(workspace=acme, mode="workflow", name="Approvals")


@pytest.fixture
def pause_run(workflow_app: Any) -> Any:
    """``pause_run(account, **PauseSpec fields)``: a paused run of ``account`` and its form."""
    from django.db import transaction

    from apps_runtime.forms import runflow
    from apps_runtime.forms.models import HumanInputForm
    from apps_runtime.runs.models import Run

    def make(account: Any, *, app: Any = None, **spec: Any) -> Paused:
        """``account`` may also be an external SSO subject: ``(email, issuer)``."""
        app = app or workflow_app
        if isinstance(account, tuple):
            owner = {
                "subject_type": "external_sso",
                "subject_email": account[0],
                "subject_issuer": account[1],
                "account": None,
            }
        else:
            owner = {"subject_type": "account", "subject_email": account.email, "account": account}
        run = Run.objects.create(
            app=app,
            workspace_id=app.workspace_id,
            mode=app.mode,
            **owner,
            workflow_run_id=uuid.uuid4(),
            status=Run.Status.PAUSED,
            state={"saved": True},
        )
        with transaction.atomic():
            events = runflow.pause_events(run, PauseSpec(**spec))
        form = HumanInputForm.objects.get(run=run)
        token = events[0]["data"]["form_token"]
        return Paused(run=run, form=form, token=token, events=events)

    return make
