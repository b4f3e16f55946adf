"""Writes of the run layer: start, stop, finish and fail runs (each one transaction + audit).

The terminal events of a run are appended to its event log only after the run row says how it
ended, so a re-attach that finds the log gone builds the same ``workflow_finished`` from the row.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import Actor, audit_by_subject, audit_record
from accounts.authentication import Subject
from apps_runtime.models import CHAT_MODES, App, AppMode, WorkflowVersion
from apps_runtime.runs import wire
from apps_runtime.runs.inputs import RunRequest
from apps_runtime.runs.models import Conversation, Message, Run
from apps_runtime.runs.selectors import conversation_get_for_subject
from config.outage import warn_outage

logger = logging.getLogger("difyapi.runs")

CONVERSATION_NAME_MAX = 40
STOP_FLAG_TTL_SECONDS = 600


def stop_flag_key(run_id: uuid.UUID | str) -> str:
    return f"run-stop:{run_id}"


def conversation_name(query: str) -> str:
    """A new conversation's name: its first query on one line, trimmed to 40 characters."""
    return " ".join(query.split())[:CONVERSATION_NAME_MAX]


def run_start(
    *,
    subject: Subject,
    app: App,
    request: RunRequest,
    workflow: WorkflowVersion | None,
    ip: str = "",
) -> Run:
    """Record a new run (and its message / conversation); the caller submits the job."""
    with transaction.atomic():
        conversation: Conversation | None = None
        if app.mode in CHAT_MODES:
            if request.conversation_id is not None:
                conversation = conversation_get_for_subject(subject, app, request.conversation_id)
                Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
            else:
                conversation = Conversation.objects.create(
                    app=app,
                    subject_type=subject.subject_type,
                    subject_email=subject.email,
                    subject_issuer=subject.issuer or "",
                    account=subject.account,
                    name=conversation_name(request.query) if request.auto_generate_name else "",
                    variables=conversation_variable_defaults(workflow),
                )
        run = Run.objects.create(
            app=app,
            workspace_id=app.workspace_id,
            mode=app.mode,
            subject_type=subject.subject_type,
            subject_email=subject.email,
            subject_issuer=subject.issuer or "",
            account=subject.account,
            workflow_version=workflow,
            workflow_run_id=uuid.uuid4() if app.mode in wire.WORKFLOW_FAMILY else None,
            conversation=conversation,
            inputs=request.inputs,
            query=request.query,
            files=request.files,
        )
        if app.mode in wire.MESSAGE_MODES:
            Message.objects.create(
                run=run,
                app=app,
                conversation=conversation,
                query=request.query,
                inputs=request.inputs,
                created_at=run.created_at,
            )
        # Contract §5.15 names this record app.run.openapi; ours are <entity>.<event>.
        audit_by_subject(
            "run.started",
            subject,
            ip=ip,
            app_id=str(app.id),
            tenant_id=str(app.workspace_id),
            caller_kind="account" if subject.account is not None else "end_user",
            mode=app.mode,
            surface="apps",
            task_id=str(run.id),
        )
    return Run.objects.select_related("app", "message").get(pk=run.pk)


def conversation_variable_defaults(workflow: WorkflowVersion | None) -> dict[str, Any]:
    """The declared values of the workflow's conversation variables (a new conversation's)."""
    values: dict[str, Any] = {}
    for variable in (workflow.conversation_variables if workflow else None) or []:
        if isinstance(variable, dict) and isinstance(variable.get("name"), str):
            values[variable["name"]] = variable.get("value")
    return values


def conversation_variables_save(conversation_id: uuid.UUID, changed: dict[str, Any]) -> None:
    """Write the ``conversation.*`` values a run's assigners changed; other variables keep what
    they hold now (another turn may have changed them meanwhile)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None:
            return
        conversation.variables = {**(conversation.variables or {}), **changed}
        conversation.save(update_fields=["variables"])


def run_discard(run: Run) -> None:
    """Undo a ``run_start`` whose job could not be accepted (the queue was full)."""
    with transaction.atomic():
        conversation_id = run.conversation_id
        Run.objects.filter(pk=run.pk).delete()
        if conversation_id is not None:
            Conversation.objects.filter(pk=conversation_id, runs__isnull=True).delete()


def run_stop(*, run: Run, actor: Actor, subject: Subject | None = None, ip: str = "") -> str:
    """Ask a run to stop; idempotent. The job sees the flag at its next node or chunk.

    A paused run has no job to notice: it is finished here, with its terminal events. Returns
    the run's status when the stop arrived (a finished status: there was nothing to stop).
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if not locked.is_active:
            return str(locked.status)
        first = locked.stop_requested_at is None
        if first:
            Run.objects.filter(pk=run.pk).update(stop_requested_at=now)
            audit_record(
                "run.stop_requested",
                actor=actor,
                account=subject.account if subject else None,
                token_id=subject.token.id if subject else None,
                ip=ip,
                app_id=str(run.app_id),
                task_id=str(run.id),
            )
        paused = locked.status == Run.Status.PAUSED
    try:
        cache.set(stop_flag_key(run.id), "1", timeout=STOP_FLAG_TTL_SECONDS)
    except Exception as exc:  # the database flag still reaches the job (heartbeat round)
        warn_outage(logger, "cache (stop flags)", exc, "stops apply at the next heartbeat")
    if paused:
        run_finish(run.id, status=Run.Status.STOPPED, from_statuses=(Run.Status.PAUSED,))
    return str(locked.status)


def stop_flag_set(run_id: uuid.UUID) -> bool:
    try:
        return bool(cache.get(stop_flag_key(run_id)))
    except Exception as exc:
        warn_outage(logger, "cache (stop flags)", exc, "stops apply at the next heartbeat")
        return False


def run_finish(
    run_id: uuid.UUID,
    *,
    status: str,
    outputs: dict[str, Any] | None = None,
    error: str = "",
    error_code: str = "",
    answer: str | None = None,
    usage: tuple[int, int, int] | None = None,
    total_steps: int | None = None,
    agent_thoughts: list[dict[str, Any]] | None = None,
    from_statuses: tuple[str, ...] = Run.ACTIVE,
) -> Run | None:
    """Record how a run ended, then append its terminal events and close its log.

    Only a run still in ``from_statuses`` is finished (a stop racing the stale sweep finishes
    once); returns the run, or ``None`` when it had already ended.
    """
    now = timezone.now()
    with transaction.atomic():
        run = (
            Run.objects.select_for_update()
            .filter(pk=run_id, status__in=from_statuses)
            .select_related("app")
            .first()
        )
        if run is None:
            return None
        run.status = status
        run.finished_at = now
        run.elapsed_time = round((now - (run.started_at or run.created_at)).total_seconds(), 3)
        if outputs is not None:
            run.outputs = outputs
        run.error = error
        run.error_code = error_code if status == Run.Status.FAILED else ""
        if usage is not None:
            run.prompt_tokens, run.completion_tokens, run.total_tokens = usage
        if total_steps is not None:
            run.total_steps = total_steps
        run.state = None if status != Run.Status.PAUSED else run.state
        run.save()
        if run.mode in wire.MESSAGE_MODES:
            fields: dict[str, Any] = {
                "status": status,
                "error": error,
                "prompt_tokens": run.prompt_tokens,
                "completion_tokens": run.completion_tokens,
                "total_tokens": run.total_tokens,
                "latency": run.elapsed_time,
            }
            if answer is not None:
                fields["answer"] = answer
            if agent_thoughts is not None:
                fields["agent_thoughts"] = agent_thoughts
            Message.objects.filter(run_id=run.pk).update(**fields)
        run = Run.objects.select_related("app", "message").get(pk=run.pk)
    run_publish_terminal(run)
    return run


def run_publish_terminal(run: Run) -> None:
    from apps_runtime.events import EventLogUnavailable, event_log

    log = event_log()
    ids = wire.RunIds.of(run)
    try:
        for event in wire.terminal_events(run):
            log.append(ids.task_id, ids.stamp(event))
        log.close(ids.task_id)
    except EventLogUnavailable as exc:
        # The row holds the outcome; a re-attach ends with it (decisions 16-faults).
        warn_outage(logger, "run event log", exc, "runs go on without live events")


def run_fail(run: Run, *, message: str, actor: Actor) -> bool:
    """Fail a run by hand (the admin's action), audited; False if it had already ended."""
    finished = run_finish(
        run.id, status=Run.Status.FAILED, error=message, error_code="internal_server_error"
    )
    if finished is None:
        return False
    with transaction.atomic():
        audit_record(
            "run.failed",
            actor=actor,
            app_id=str(run.app_id),
            task_id=str(run.id),
        )
    return True


STALE_MESSAGE = "the run's server process stopped responding"


def runs_fail_stale() -> int:
    """Housekeeping: a running run whose heartbeat is older than ``RUN_STALE_SECONDS`` lost its
    process; fail it and tell attached clients (decisions §7)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
    lost = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    if settings.RUN_EXECUTOR == "celery":
        # A job waiting in the broker has no heartbeat until a worker claims its run: a run that
        # never started is failed only after RUN_START_TIMEOUT_SECONDS.
        never_started = now - timedelta(seconds=settings.RUN_START_TIMEOUT_SECONDS)
        lost = (Q(started_at__isnull=False) & lost) | Q(
            started_at__isnull=True, created_at__lt=never_started
        )
    stale = Run.objects.filter(status=Run.Status.RUNNING).filter(lost)
    count = 0
    for run_id in list(stale.values_list("id", flat=True)[:500]):
        if run_finish(
            run_id,
            status=Run.Status.FAILED,
            error=STALE_MESSAGE,
            error_code="internal_server_error",
            from_statuses=(Run.Status.RUNNING,),
        ):
            count += 1
    return count


def run_resume_request(run_id: uuid.UUID, resume_input: dict[str, Any]) -> bool:
    """Inside the caller's transaction (the one that closed the run's form): give the paused run
    its resume input; after commit append the resumption ``workflow_started`` and submit the
    resume job (any worker may take it). False when the run cannot take it (no longer paused, or
    already answered)."""
    run = Run.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != Run.Status.PAUSED or run.resume_input is not None:
        return False
    run.resume_input = resume_input
    run.resume_requested_at = timezone.now()
    run.save(update_fields=["resume_input", "resume_requested_at"])
    transaction.on_commit(lambda: run_resume_submit(run_id))
    return True


def run_resume_submit(run_id: uuid.UUID) -> None:
    from apps_runtime.events import event_log
    from apps_runtime.runs.executor import ExecutorFull, ExecutorUnavailable, get_executor

    run = Run.objects.select_related("app", "message").get(pk=run_id)
    ids = wire.RunIds.of(run)
    event_log().append(ids.task_id, ids.stamp(wire.workflow_started(run, reason="resumption")))
    try:
        get_executor().submit("resume", run_id)
    except (ExecutorFull, ExecutorUnavailable):
        # The answer is saved on the run; housekeeping submits the job again (runs_resume_retry)
        # and the run's stream shows nothing more until then. Log loudly: capacity is short.
        logger.error("run %s: no executor took the resume job; retried later", run_id)


def runs_resume_retry() -> int:
    """Housekeeping: a paused run holding an answer whose resume job has not claimed it within
    ``RUN_STALE_SECONDS`` (the executor's queue was full, or the process that took the job died
    before starting it) gets the job submitted again. The job claims the run once, so a second
    submission of a job still waiting does nothing."""
    from apps_runtime.runs.executor import ExecutorFull, ExecutorUnavailable, get_executor

    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.RUN_STALE_SECONDS)
    # No resume_requested_at: answered before the column existed, so long overdue.
    overdue = Q(resume_requested_at__lt=cutoff) | Q(resume_requested_at__isnull=True)
    waiting = Run.objects.filter(
        overdue, status=Run.Status.PAUSED, resume_input__isnull=False
    ).order_by("resume_requested_at")
    count = 0
    for run_id in list(waiting.values_list("id", flat=True)[:100]):
        try:
            get_executor().submit("resume", run_id)
        except (ExecutorFull, ExecutorUnavailable):
            logger.error("run %s: still no executor took the resume job", run_id)
            break
        Run.objects.filter(pk=run_id).update(resume_requested_at=now)
        count += 1
    return count


def is_chat_family(mode: str) -> bool:
    return mode in CHAT_MODES or mode == AppMode.COMPLETION
