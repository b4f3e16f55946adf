"""Where forms meet runs (flows §6). The dependency runs one way: forms → runs
(docs/decisions/17-celery.md). The run layer reaches this module only through the hooks
registered in ``apps_runtime.runs.pausing`` (:data:`PAUSE_HOOKS`, from ``AppConfig.ready()``):

- The run job, on a paused outcome, calls :func:`pause_events` inside the transaction that marks
  the run paused: the form is created with it, and the returned ``human_input_required`` +
  ``workflow_paused`` events are appended after commit.
- Closing a form (answer or timeout, ``forms.services``) hands the answer to the run with
  ``runs.services.run_resume_request`` inside the form's transaction; after commit the resumption
  ``workflow_started`` is appended and the resume job submitted through the executor, before the
  submit's ``{}`` goes out (decisions §6).
- The resume job calls :func:`resume_event` for the ``human_input_form_filled`` /
  ``human_input_form_timeout`` event it publishes before the engine continues.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.utils import timezone

from accounts.audit import Actor
from apps_runtime.forms.fields import content_with_answers, value_text
from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.services import form_create, forms_cancel_for_run
from apps_runtime.runs import wire
from apps_runtime.runs.models import Run
from apps_runtime.runs.pausing import PauseHooks
from apps_runtime.runs.services import run_fail

logger = logging.getLogger("difyapi.forms")

# Channel names the client lists in ``approval_channels`` (client.md §5.5).
CHANNEL_NAMES = {"webapp": "web_app", "email": "email"}


def pause_events(run: Run, pause: Any) -> list[dict[str, Any]]:
    """Create the form of ``pause`` (inside the caller's transaction) and return the pause
    events: ``human_input_required`` then ``workflow_paused`` (contract §6.2)."""
    defaults = {
        str(field["output_variable_name"]): value_text(resolved_default(field))
        for field in pause.inputs or []
        if isinstance(field, dict) and field.get("output_variable_name")
    }
    created = form_create(
        run=run,
        node_id=pause.node_id,
        node_title=pause.node_title,
        form_content=pause.form_content,
        inputs=list(pause.inputs or []),
        resolved_default_values=defaults,
        actions=list(pause.actions or []),
        timeout_seconds=float(pause.timeout_seconds),
        delivery_methods=pause.delivery_methods,
    )
    form = created.form
    fields = {
        "form_id": str(form.id),
        "node_id": form.node_id,
        "node_title": form.node_title,
        "form_content": form.form_content,
        "inputs": form.inputs,
        "actions": form.actions,
        "display_in_ui": created.api_token is not None,
        "form_token": created.api_token,
        "approval_channels": [CHANNEL_NAMES.get(m, m) for m in form.delivery_methods],
        "resolved_default_values": form.resolved_default_values,
        "expiration_time": int(form.expiration_time().timestamp()),
    }
    now = timezone.now()
    return [
        {"event": "human_input_required", "data": fields},
        {
            "event": "workflow_paused",
            "data": {
                "workflow_run_id": str(run.workflow_run_id),
                "paused_nodes": [form.node_id],
                "outputs": {},
                "reasons": [{"type": "human_input_required", **fields}],
                "status": "paused",
                "created_at": wire.unix(run.created_at),
                "elapsed_time": round(
                    (now - (run.started_at or run.created_at)).total_seconds(), 3
                ),
                "total_tokens": run.total_tokens,
                "total_steps": run.total_steps,
            },
        },
    ]


def resolved_default(field: dict[str, Any]) -> Any:
    """A field's default as the engine resolved it (variable defaults carry the value the
    variable had when the run paused; the earliest DSL versions call it ``placeholder``)."""
    for key in ("default", "placeholder"):
        spec = field.get(key)
        if isinstance(spec, dict):
            return spec.get("value")
    return None


def resume_event(run: Run, resume: Any) -> dict[str, Any]:
    """The event a resume job publishes first: the form's answer, or its timeout."""
    form = (
        HumanInputForm.objects.filter(run=run, node_id=resume.node_id)
        .exclude(status=HumanInputForm.Status.WAITING)
        .order_by("-created_at")
        .first()
    )
    title = form.node_title if form else ""
    if resume.timed_out:
        return {
            "event": "human_input_form_timeout",
            "data": {
                "form_id": str(form.id) if form else None,
                "node_id": resume.node_id,
                "node_title": title,
                "status": form.status if form else HumanInputForm.Status.TIMEOUT,
                "expiration_time": int(form.expiration_time().timestamp()) if form else None,
            },
        }
    action = form.action(resume.action_id) if form else None
    return {
        "event": "human_input_form_filled",
        "data": {
            "form_id": str(form.id) if form else None,
            "node_id": resume.node_id,
            "node_title": title,
            "rendered_content": content_with_answers(form.form_content, resume.values)
            if form
            else "",
            "action_id": resume.action_id,
            "action_text": str((action or {}).get("title") or resume.action_id),
        },
    }


def run_fail_paused(run_id: uuid.UUID, *, reason: str, actor: Actor) -> bool:
    """Fail a paused run (the admin's action): its waiting forms are cancelled, attached
    clients get the terminal events. False if it was not paused."""
    run = Run.objects.filter(pk=run_id, status=Run.Status.PAUSED).first()
    if run is None:
        return False
    if not run_fail(run, message=reason, actor=actor):
        return False
    forms_cancel_for_run(run_id, reason=reason, actor=actor)
    return True


PAUSE_HOOKS = PauseHooks(pause_events=pause_events, resume_event=resume_event)
