"""Run and resume jobs (decisions §7): ``execute(kind, run_id)`` is all an executor calls.

A job reads everything from the database, builds the run's host, calls the engine, and records the
outcome: the run row (status, outputs, usage, timings), the message for the chat family, then the
terminal events of decisions §6 on the run's log. It runs at most once per submission (the start
is claimed in the database), and it closes its database connection when it ends.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from apps_runtime.env_secrets import unseal_secret_values
from apps_runtime.models import AppMode
from apps_runtime.runs import wire
from apps_runtime.runs.host import RunHost
from apps_runtime.runs.models import Run
from apps_runtime.runs.pausing import pause_hooks
from apps_runtime.runs.services import (
    conversation_variable_defaults,
    conversation_variables_save,
    run_finish,
)

logger = logging.getLogger("difyapi.runs")

INTERNAL_ERROR = "The run failed because of an internal error."


def execute(kind: str, run_id: uuid.UUID) -> None:
    close_old_connections()
    try:
        if kind == "run":
            _run(run_id)
        elif kind == "resume":
            _resume(run_id)
        else:
            logger.error("unknown job kind %r for run %s", kind, run_id)
    except Exception:
        logger.exception("run %s: job %s failed", run_id, kind)
        try:
            close_old_connections()
            run_finish(
                run_id,
                status=Run.Status.FAILED,
                error=INTERNAL_ERROR,
                error_code="internal_server_error",
                from_statuses=(Run.Status.RUNNING,),
            )
        except Exception:
            logger.exception("run %s: could not record the failure", run_id)
    finally:
        connection.close()


def _claim(run_id: uuid.UUID) -> Run | None:
    """Mark the run started (once); ``None`` if another job already started it or it ended."""
    now = timezone.now()
    claimed = Run.objects.filter(
        pk=run_id, status=Run.Status.RUNNING, started_at__isnull=True
    ).update(started_at=now, heartbeat_at=now)
    if not claimed:
        return None
    return (
        Run.objects.select_related(
            "app", "workspace", "workflow_version", "conversation", "message"
        )
        .filter(pk=run_id)
        .first()
    )


def system_variables(run: Run) -> dict[str, Any]:
    """``sys.*`` of dsl.md §3.2."""
    values: dict[str, Any] = {
        "files": run.files or [],
        "user_id": str(run.account_id) if run.account_id else run.subject_email,
        "app_id": str(run.app_id),
        "workflow_id": str(run.workflow_version_id or ""),
        "workflow_run_id": str(run.workflow_run_id or ""),
        "timestamp": int(run.created_at.timestamp()),
        "invoke_from": "openapi",
    }
    if run.mode == AppMode.ADVANCED_CHAT and run.conversation is not None:
        values["query"] = run.query
        values["conversation_id"] = str(run.conversation_id or "")
        turns = run.conversation.runs.filter(created_at__lte=run.created_at).count()
        values["dialogue_count"] = max(turns, 1)
    return values


def environment_variables(run: Run) -> dict[str, Any]:
    """``env.*``: the version's environment values, secrets decrypted only for the run."""
    return version_environment(run.workflow_version)


def version_environment(version: Any) -> dict[str, Any]:
    """``env.*`` of a workflow version (secrets decrypted only for the run)."""
    variables = version.environment_variables if version is not None else []
    values: dict[str, Any] = {}
    for variable in unseal_secret_values(list(variables or [])):
        if isinstance(variable, dict) and isinstance(variable.get("name"), str):
            values[variable["name"]] = variable.get("value")
    return values


def conversation_variables(run: Run) -> dict[str, Any]:
    """``conversation.*``: the conversation's values over the declared defaults (a variable the
    app gained after the conversation began starts from its declared value)."""
    if run.conversation is None:
        return {}
    defaults = conversation_variable_defaults(run.workflow_version)
    return {**defaults, **(run.conversation.variables or {})}


def _run(run_id: uuid.UUID) -> None:
    run = _claim(run_id)
    if run is None:
        return
    from apps_runtime import engine

    host = RunHost(run)
    if run.stop_requested_at is not None:
        run_finish(run.id, status=Run.Status.STOPPED, from_statuses=(Run.Status.RUNNING,))
        return
    mode = run.mode
    if mode in wire.WORKFLOW_FAMILY:
        graph = run.workflow_version.graph if run.workflow_version else {}
        kwargs: dict[str, Any] = {
            "mode": mode,
            "inputs": dict(run.inputs or {}),
            "system": system_variables(run),
            "environment": environment_variables(run),
            "conversation": conversation_variables(run),
        }
        connection.close()
        host.publish(wire.workflow_started(run))
        outcome = engine.run_workflow(graph, host=host, **kwargs)
    else:
        config = run.app.model_config.config
        inputs, query = dict(run.inputs or {}), run.query
        connection.close()
        outcome = engine.run_prompt_app(config, mode=mode, inputs=inputs, query=query, host=host)
    _record(run, outcome)


def _resume(run_id: uuid.UUID) -> None:
    """Continue a paused run from its saved state with ``Run.resume_input`` (a form submission
    or a timeout, written by whoever submitted the resume)."""
    now = timezone.now()
    claimed = Run.objects.filter(
        pk=run_id, status=Run.Status.PAUSED, resume_input__isnull=False
    ).update(status=Run.Status.RUNNING, heartbeat_at=now)
    if not claimed:
        return
    run = Run.objects.select_related("app", "workflow_version", "conversation", "message").get(
        pk=run_id
    )
    from apps_runtime import engine

    resume = engine.ResumeInput(**(run.resume_input or {}))
    state = run.state or {}
    Run.objects.filter(pk=run_id).update(resume_input=None)
    host = RunHost(run)
    host.publish(pause_hooks().resume_event(run, resume))
    connection.close()
    graph = run.workflow_version.graph if run.workflow_version else {}
    outcome = engine.resume_workflow(graph, state=state, resume=resume, host=host)
    _record(run, outcome)


def _record(run: Run, outcome: Any) -> None:
    """Write the outcome and append the terminal events (or the pause)."""
    close_old_connections()
    usage = outcome.usage
    tokens = (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
    changed = getattr(outcome, "conversation_variables", None)
    if changed and run.conversation_id is not None:
        # Kept whatever the run's end, as an assigner's write is in Dify (read on the next turn).
        conversation_variables_save(run.conversation_id, changed)
    if outcome.status == Run.Status.PAUSED:
        _pause(run, outcome, tokens)
        return
    status = outcome.status if outcome.status in Run.Status.values else Run.Status.FAILED
    error_code = ""
    if status == Run.Status.FAILED:
        error_code = outcome.error_code or "completion_request_error"
    run_finish(
        run.id,
        status=status,
        outputs=outcome.outputs if isinstance(outcome.outputs, dict) else {},
        error=outcome.error or "",
        error_code=error_code,
        answer=outcome.answer if run.mode in wire.MESSAGE_MODES else None,
        usage=tokens,
        total_steps=outcome.total_steps,
        agent_thoughts=outcome.agent_thoughts or None,
        from_statuses=(Run.Status.RUNNING,),
    )


def _pause(run: Run, outcome: Any, tokens: tuple[int, int, int]) -> None:
    """In one transaction: save the engine's state, create the human-input form, mark the run
    paused (flows §6); then append ``human_input_required`` and ``workflow_paused``."""
    with transaction.atomic():
        Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
            status=Run.Status.PAUSED,
            state=outcome.state,
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            total_tokens=tokens[2],
            total_steps=outcome.total_steps,
            heartbeat_at=None,
        )
        paused = Run.objects.select_related("app", "message").get(pk=run.pk)
        events = pause_hooks().pause_events(paused, outcome.pause)
    host = RunHost(paused)
    for event in events:
        host.publish(event)
