"""Writes of human-input forms: create, submit, expire (one transaction and one audit record each).

Submitting or expiring a form hands the answer to the run (``runs.services.run_resume_request``)
inside the same transaction, so the form is closed and the run marked resuming together; the
resume job is submitted only after commit. This module imports nothing of ``forms.runflow``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Account
from apps_runtime.forms import delivery
from apps_runtime.forms.errors import form_closed_error, form_expired_error
from apps_runtime.forms.fields import submission_clean
from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tokens import token_digest, token_mint
from apps_runtime.runs.services import run_resume_request

logger = logging.getLogger("difyapi.forms")


@dataclass(frozen=True)
class CreatedForm:
    form: HumanInputForm
    # Plaintext tokens exist only here, on their way into the run's events and the email.
    api_token: str | None
    page_token: str | None


def form_create(
    *,
    run: Any,
    node_id: str,
    node_title: str,
    form_content: str,
    inputs: list[dict[str, Any]],
    resolved_default_values: dict[str, str],
    actions: list[dict[str, Any]],
    timeout_seconds: float,
    delivery_methods: Any,
) -> CreatedForm:
    """Create the single-use form of a paused run; the email (if any) is sent after commit."""
    plan = delivery.delivery_plan(
        delivery_methods,
        workspace_id=run.workspace_id,
        node_title=node_title,
        form_content=form_content,
    )
    api_token = token_mint() if plan.webapp else None
    page_token = token_mint() if plan.email else None
    now = timezone.now()
    with transaction.atomic():
        form = HumanInputForm.objects.create(
            run=run,
            app_id=run.app_id,
            node_id=node_id,
            node_title=node_title,
            form_content=form_content,
            inputs=inputs,
            resolved_default_values=resolved_default_values,
            actions=actions,
            delivery_methods=plan.methods,
            email_recipients=plan.email.recipients if plan.email else [],
            api_token_digest=token_digest(api_token) if api_token else None,
            page_token_digest=token_digest(page_token) if page_token else None,
            created_at=now,
            expires_at=now + timedelta(seconds=max(0.0, timeout_seconds)),
        )
        audit_record(
            "human_input_form.created",
            actor=Actor.system("run paused"),
            form_id=form.id,
            run_id=run.id,
            app_id=run.app_id,
            node_id=node_id,
            delivery=plan.methods,
        )
        if plan.email and page_token:
            transaction.on_commit(lambda: _email(form.id, plan.email, page_token))
    return CreatedForm(form=form, api_token=api_token, page_token=page_token)


def _email(form_id: Any, plan: delivery.EmailPlan | None, page_token: str) -> None:
    if plan is None:
        return
    sent = delivery.email_send(plan, page_token)
    HumanInputForm.objects.filter(id=form_id).update(email_sent_at=timezone.now())
    logger.info("form %s emailed to %d recipient(s)", form_id, sent)


def form_submit(
    *, form_id: Any, action: str, values: Any, account: Account | None, actor: Actor, via: str
) -> HumanInputForm:
    """Close a waiting form with the person's answer and resume its run.

    412 ``human_input_form_submitted`` once closed, 412 ``human_input_form_expired`` once overdue
    (the overdue form is expired on the spot), 400 ``invalid_form_data`` for a bad answer.
    """
    expired = False
    with transaction.atomic():
        form = HumanInputForm.objects.select_for_update().get(id=form_id)
        _raise_if_closed(form)
        overdue = form.overdue_status()
        if overdue:
            _expire_locked(form, overdue)
            expired = True
        else:
            clean = submission_clean(
                fields=form.inputs, actions=form.actions, action=action, values=values
            )
            form.status = HumanInputForm.Status.SUBMITTED
            form.closed_at = timezone.now()
            form.action_id = action
            form.values = clean
            form.submitted_by = account
            form.submitted_via = via
            form.save(
                update_fields=[
                    "status",
                    "closed_at",
                    "action_id",
                    "values",
                    "submitted_by",
                    "submitted_via",
                ]
            )
            audit_record(
                "human_input_form.submitted",
                actor=actor,
                account=account,
                form_id=form.id,
                run_id=form.run_id,
                action_id=action,
                via=via,
            )
            _resume_run(form, timed_out=False)
    if expired:
        raise form_expired_error()
    return form


def _raise_if_closed(form: HumanInputForm) -> None:
    if form.status != HumanInputForm.Status.WAITING:
        raise form_closed_error(form)


def form_expire(form_id: Any) -> bool:
    """Expire a form if it is waiting and overdue; its run resumes down ``__timeout`` or fails.
    True when this call expired it."""
    with transaction.atomic():
        form = HumanInputForm.objects.select_for_update().filter(id=form_id).first()
        if form is None:
            return False
        overdue = form.overdue_status()
        if overdue is None:
            return False
        _expire_locked(form, overdue)
    return True


def _expire_locked(form: HumanInputForm, status: str) -> None:
    from apps_runtime.runs.models import Run

    if not Run.objects.filter(pk=form.run_id, status=Run.Status.PAUSED).exists():
        # The run already ended another way (stopped while paused): nothing to time out.
        status = HumanInputForm.Status.CANCELLED
    form.status = status
    form.closed_at = timezone.now()
    form.save(update_fields=["status", "closed_at"])
    audit_record(
        "human_input_form.expired",
        actor=Actor.system("form expiry"),
        form_id=form.id,
        run_id=form.run_id,
        status=status,
        expires_at=form.expiration_time(),
    )
    _resume_run(form, timed_out=True)


def _resume_run(form: HumanInputForm, *, timed_out: bool) -> None:
    """Inside the transaction that closed ``form``: hand its answer (or timeout) to the paused run.

    A run that is no longer paused (failed from the admin, stopped) cannot take an answer: the
    submission is refused as expired; a timeout just closes the form.
    """
    resume_input = {
        "node_id": form.node_id,
        "action_id": "" if timed_out else form.action_id,
        "values": {} if timed_out else dict(form.values),
        "timed_out": timed_out,
    }
    if not run_resume_request(form.run_id, resume_input) and not timed_out:
        raise form_expired_error()


def form_close_if_unanswerable(form: HumanInputForm) -> bool:
    """On any read: expire an overdue waiting form, cancel one whose run ended another way
    (stopped, failed from the admin, swept as stale). True when the form cannot be answered."""
    from apps_runtime.runs.models import Run

    if not form.is_waiting:
        return True
    if form.overdue_status() is not None:
        form_expire(form.id)
        return True
    if form.run.status != Run.Status.PAUSED:
        forms_cancel_for_run(form.run_id, reason=f"the run is {form.run.status}")
        return True
    return False


def forms_expire_overdue() -> int:
    """Housekeeping: expire every overdue waiting form; returns how many."""
    from django.conf import settings

    now = timezone.now()
    overdue = Q(expires_at__lte=now)
    if settings.HITL_GLOBAL_TIMEOUT_SECONDS > 0:
        overdue |= Q(created_at__lte=now - timedelta(seconds=settings.HITL_GLOBAL_TIMEOUT_SECONDS))
    ids = list(
        HumanInputForm.objects.filter(overdue, status=HumanInputForm.Status.WAITING).values_list(
            "id", flat=True
        )
    )
    return sum(1 for form_id in ids if form_expire(form_id))


def forms_cancel_for_run(run_id: Any, *, reason: str, actor: Actor | None = None) -> int:
    """The run ended another way: its waiting forms can no longer be answered."""
    actor = actor or Actor.system("run ended")
    with transaction.atomic():
        count = HumanInputForm.objects.filter(
            run_id=run_id, status=HumanInputForm.Status.WAITING
        ).update(status=HumanInputForm.Status.CANCELLED, closed_at=timezone.now())
        if count:
            audit_record("human_input_form.cancelled", actor=actor, run_id=run_id, reason=reason)
    return count
