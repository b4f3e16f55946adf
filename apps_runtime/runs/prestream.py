"""Everything the SSE endpoints check before a stream starts (contract §3.5, §5.15, §5.16), as
short synchronous steps run by the consumers through ``sync_to_async``.

Each failure raises ``ApiError`` and the consumer answers the JSON envelope. Order: bearer (401 /
429), surface and scope (403), the app (404 for a non-member, 403 service API off), open streams
per token (429), then per endpoint: the body, mode rules and inputs (422), the app's definition
(400 ``app_unavailable``), the provider (400 ``provider_not_initialize``), run starts per minute
(429), the run rows, the job (429 when the executor is full, 503 when its broker is unreachable).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection

from accounts.authentication import Subject, resolve_bearer
from apps_runtime.dsl import app_unrunnable_message
from apps_runtime.engine.nodes import model_node_types
from apps_runtime.models import PROMPT_MODES, App, AppMode, WorkflowVersion
from apps_runtime.runs import services, wire
from apps_runtime.runs.executor import ExecutorFull, ExecutorUnavailable, get_executor
from apps_runtime.runs.inputs import MODE_NOT_RUNNABLE, invalid, parse_body, run_request_from_body
from apps_runtime.runs.models import NodeExecution, Run
from apps_runtime.runs.selectors import app_get_for_run, owned_by, run_get_for_subject
from apps_runtime.runs.streams import stream_slot_acquire, stream_slot_release
from config.api import ratelimit
from config.api.errors import (
    INSUFFICIENT_SCOPE_CHALLENGE,
    ApiError,
    RateLimited,
    ServiceUnavailable,
)
from config.api.sse import data_frame

APPS_RUN = "apps:run"
APP_UNAVAILABLE = "app_unavailable"
MODE_NOT_SUPPORTED_FOR_EVENT_RECONNECT = "mode_not_supported_for_event_reconnect"
RUNNABLE_MODES = frozenset(
    {AppMode.WORKFLOW, AppMode.ADVANCED_CHAT, AppMode.CHAT, AppMode.COMPLETION, AppMode.AGENT_CHAT}
)


def release_connection() -> None:
    """Give the database connection back before the stream starts (a stream holds none).

    Not inside an atomic block: that is a test's transaction running this step in its own
    thread, and closing would end it."""
    if not connection.in_atomic_block:
        connection.close()


EVENT_LOG_UNAVAILABLE = "the run event log is unavailable, try again shortly"


def require_event_log() -> None:
    """503 before the stream when the event log cannot be written (Redis down): a stream that
    could carry no event is never started, and no run is recorded."""
    from apps_runtime.events import EventLogUnavailable, event_log

    try:
        event_log().check()
    except EventLogUnavailable:
        raise ServiceUnavailable(EVENT_LOG_UNAVAILABLE) from None


def app_unavailable(message: str) -> ApiError:
    return ApiError(400, message, code=APP_UNAVAILABLE)


def subject_for_apps(authorization: str | None) -> Subject:
    """Bearer and scope ``apps:run``. Run and events take accounts and, as end users, external
    SSO subjects (contract G2); which apps each may reach is ``app_get_for_run``'s."""
    subject = resolve_bearer(authorization)
    if not subject.has_scope(APPS_RUN):
        raise ApiError(
            403,
            f"insufficient_scope: {APPS_RUN}",
            headers={"WWW-Authenticate": INSUFFICIENT_SCOPE_CHALLENGE},
        )
    return subject


def _workflow_for_run(app: App, workflow_id: str | None) -> WorkflowVersion:
    if workflow_id:
        from config.api.wire import parse_uuid

        version_id = parse_uuid(workflow_id)
        if version_id is None:
            raise ApiError(400, "workflow_id is not a valid workflow id", code="bad_request")
        version = WorkflowVersion.objects.filter(app=app, id=version_id).first()
        if version is None:
            raise ApiError(404, "workflow not found")
        if version.is_draft:
            raise ApiError(400, "a draft workflow cannot be run", code="bad_request")
        return version
    if app.published_workflow is None:
        raise app_unavailable("the app has no published workflow")
    return app.published_workflow


def providers_of(app: App, workflow: WorkflowVersion | None) -> list[str]:
    """The model providers a run of ``app`` may call (its model, or its model nodes')."""
    found: list[str] = []
    if workflow is not None:
        for node in (workflow.graph or {}).get("nodes") or []:
            data = node.get("data") if isinstance(node, dict) else None
            if isinstance(data, dict) and data.get("type") in model_node_types():
                model = data.get("model")
                found.append(str(model.get("provider") or "") if isinstance(model, dict) else "")
    elif app.mode in PROMPT_MODES:
        config = app.model_config.config if hasattr(app, "model_config") else {}
        model = config.get("model") if isinstance(config, dict) else None
        found.append(str(model.get("provider") or "") if isinstance(model, dict) else "")
    return list(dict.fromkeys(found))


def check_providers(app: App, workflow: WorkflowVersion | None) -> None:
    providers = providers_of(app, workflow)
    if not providers:
        return
    from apps_runtime.providers.selectors import provider_endpoint_for
    from apps_runtime.providers.types import ProviderError

    for provider in providers:
        try:
            provider_endpoint_for(app.workspace_id, provider)
        except ProviderError as exc:
            raise ApiError(exc.status, exc.message, code=exc.code) from None


def check_tool_providers(app: App, workflow: WorkflowVersion | None) -> None:
    """Every tool provider the app names must exist in its workspace (``app_unavailable``)."""
    from apps_runtime.tools.registry import missing_providers, tool_entries

    if workflow is not None:
        entries = tool_entries(mode=app.mode, graph=workflow.graph or {})
    else:
        entries = tool_entries(mode=app.mode, model_config=app.model_config.config)
    missing = missing_providers(app.workspace_id, entries)
    if missing:
        raise app_unavailable(
            "the app uses tool providers this workspace does not have: " + ", ".join(missing)
        )


def check_agent_strategy(app: App) -> None:
    """An agent app runs only with a strategy the engine knows (function calling, ReAct)."""
    from apps_runtime.engine.agent import strategy_of

    config = app.model_config.config if isinstance(app.model_config.config, dict) else {}
    agent_mode = config.get("agent_mode") if isinstance(config.get("agent_mode"), dict) else {}
    strategy = (agent_mode or {}).get("strategy")
    if strategy_of(strategy) is None:
        raise app_unavailable(f"the agent strategy {strategy!r} is not runnable on this server")


def check_runnable(app: App) -> None:
    if app.mode not in RUNNABLE_MODES:
        raise invalid(MODE_NOT_RUNNABLE)


def start_run(*, authorization: str | None, app_ref: str, body: bytes, ip: str) -> Any:
    """Check everything, record the run and submit its job; return the stream's plan."""
    try:
        subject = subject_for_apps(authorization)
        app = app_get_for_run(subject, app_ref)
        token_key = str(subject.token.id)
        require_event_log()
        slot = stream_slot_acquire(token_key)
        try:
            run = _start(subject, app, body, ip)
            plan = plan_for_started_run(run, token_key)
        except BaseException:
            stream_slot_release(slot)
            raise
        plan.slot = slot
        return plan
    finally:
        release_connection()


def plan_for_started_run(run: Run, token_key: str) -> Any:
    """A new run's stream: its log from the start until the terminal events."""
    from apps_runtime.runs.consumers import StreamPlan

    return StreamPlan(task_id=str(run.id), mode=run.mode, token_key=token_key)


def _start(subject: Subject, app: App, raw: bytes, ip: str) -> Run:
    check_runnable(app)
    request = run_request_from_body(app, parse_body(raw), subject=subject)
    workflow: WorkflowVersion | None = None
    if app.mode in wire.WORKFLOW_FAMILY:
        workflow = _workflow_for_run(app, request.workflow_id)
        problem = app_unrunnable_message(app, workflow)
        if problem is not None:
            raise app_unavailable(problem)
    elif not hasattr(app, "model_config"):
        raise app_unavailable("the app has no model configuration")
    elif app.mode == AppMode.AGENT_CHAT:
        check_agent_strategy(app)
    check_tool_providers(app, workflow)
    check_providers(app, workflow)
    check_active_runs(subject)
    ratelimit.enforce(
        "run-start",
        subject.key,
        limit=settings.RUN_STARTS_PER_MINUTE,
        window=60,
        hint="too many runs started in the last minute",
    )
    run = services.run_start(subject=subject, app=app, request=request, workflow=workflow, ip=ip)
    try:
        get_executor().submit("run", run.id)
    except ExecutorFull:
        services.run_discard(run)
        raise RateLimited(
            5, hint="the server is busy running other apps; try again shortly"
        ) from None
    except ExecutorUnavailable:
        services.run_discard(run)
        raise ApiError(
            503, "runs cannot be queued right now; try again shortly", code="service_unavailable"
        ) from None
    return run


def check_active_runs(subject: Subject) -> None:
    """At most ``RUN_MAX_ACTIVE_PER_SUBJECT`` runs of one caller execute (or wait for a worker)
    at once, so one caller's slow runs (a dripping server, a long model call) never take every
    run slot from the others (issue 16). A paused run holds no slot and does not count. Checked
    before the per-minute start limit, so a refused start costs none of that budget."""
    cap = settings.RUN_MAX_ACTIVE_PER_SUBJECT
    if not cap:
        return
    active = Run.objects.filter(owned_by(subject), status=Run.Status.RUNNING).count()
    if active >= cap:
        raise RateLimited(
            5,
            hint=f"{active} of your runs are still running (at most {cap} at once); "
            "wait for one to finish, or stop one",
        )


# -- re-attach ---------------------------------------------------------------------------------


def attach_run(
    *,
    authorization: str | None,
    app_ref: str,
    task_ref: str,
    last_event_id: str | None,
    include_state_snapshot: bool,
    continue_on_pause: bool,
) -> Any:
    """Find the caller's run and plan the re-attach position of decisions §6."""
    from apps_runtime.events import EventLogUnavailable
    from apps_runtime.runs.consumers import StreamPlan

    try:
        subject = subject_for_apps(authorization)
        app = app_get_for_run(subject, app_ref)
        if app.mode not in wire.WORKFLOW_FAMILY:
            raise invalid(MODE_NOT_SUPPORTED_FOR_EVENT_RECONNECT)
        run = run_get_for_subject(subject, app, task_ref)
        token_key = str(subject.token.id)
        slot = stream_slot_acquire(token_key)
        try:
            plan = StreamPlan(
                task_id=str(run.id),
                mode=run.mode,
                token_key=token_key,
                slot=slot,
                idle_seconds=settings.SSE_IDLE_SECONDS,
                continue_on_pause=continue_on_pause,
                ping_first=True,
            )
            try:
                _position(plan, run, last_event_id, include_state_snapshot)
            except EventLogUnavailable:
                raise ServiceUnavailable(EVENT_LOG_UNAVAILABLE) from None
        except BaseException:
            stream_slot_release(slot)
            raise
        return plan
    finally:
        release_connection()


def _position(plan: Any, run: Run, last_event_id: str | None, snapshot: bool) -> None:
    from apps_runtime.events import event_log

    log = event_log()
    ids = wire.RunIds.of(run)
    if not log.exists(plan.task_id):
        if not run.is_active:
            # The log is gone (retention): one workflow_finished built from the row, then close.
            entry_id = f"{int((run.finished_at or run.created_at).timestamp() * 1000)}-0"
            plan.prelude = [data_frame(entry_id, ids.stamp(wire.workflow_finished(run)))]
            plan.live = False
        return
    entries = log.entries(plan.task_id)
    if last_event_id is not None:
        plan.after = last_event_id
    elif snapshot:
        position = entries[-1][0] if entries else None
        plan.prelude = _snapshot_frames(run, ids, position or "0-0", entries)
        if run.status == Run.Status.PAUSED and not plan.continue_on_pause:
            plan.live = False  # the snapshot ended with the pause
            return
        # Live events follow the snapshot; a finished run ends with its terminal events.
        plan.after = position if run.is_active else _before_last(entries, "workflow_finished")
    else:
        plan.after = _segment_start(entries)
    if not run.is_active:
        # A finished run's stream ends with how it finished: a pause it left (a stop or a
        # failure while it waited for a form) is passed over, not taken for the end.
        plan.continue_on_pause = True
    if not run.is_active and not any(
        wire.ends_stream(run.mode, e, continue_on_pause=True) for _, e in entries
    ):
        # Finished, but its terminal events never reached the log (the log was down when the run
        # ended, decisions 16-faults): what is there, then the end built from the row.
        plan.prelude += [
            data_frame(entry_id, event) for entry_id, event in _after(entries, plan.after)
        ]
        last = entries[-1][0] if entries else "0-0"
        plan.prelude += [data_frame(last, ids.stamp(event)) for event in wire.terminal_events(run)]
        plan.live = False
    elif not run.is_active and not any(
        wire.ends_stream(run.mode, event, continue_on_pause=True)
        for _, event in _after(entries, plan.after)
    ):
        # Finished and its end already delivered: nothing more will come.
        plan.live = bool(_after(entries, plan.after))


def terminal_frames_if_finished(task_id: str, after: str | None) -> list[bytes]:
    """A stream that must end without having seen its run's terminal events (the log became
    unreachable, or stayed silent until the idle timeout): the run's end built from its row if
    the run has ended, else nothing."""
    try:
        run = Run.objects.filter(pk=task_id).select_related("app", "message").first()
        if run is None or run.is_active:
            return []
        ids = wire.RunIds.of(run)
        return [data_frame(after or "0-0", ids.stamp(event)) for event in wire.terminal_events(run)]
    finally:
        release_connection()


def _after(entries: list[tuple[str, dict[str, Any]]], after: str | None) -> list[Any]:
    from apps_runtime.events.base import entry_id_key

    if after is None:
        return entries
    key = entry_id_key(after)
    return [entry for entry in entries if entry_id_key(entry[0]) > key]


def _before_last(entries: list[tuple[str, dict[str, Any]]], name: str) -> str | None:
    """The id just before the most recent ``name`` event (None: from the beginning)."""
    for index in range(len(entries) - 1, -1, -1):
        if entries[index][1].get("event") == name:
            return entries[index - 1][0] if index > 0 else None
    return None


def _segment_start(entries: list[tuple[str, dict[str, Any]]]) -> str | None:
    """Where the current segment starts: before the most recent ``workflow_started``."""
    return _before_last(entries, "workflow_started")


def _snapshot_frames(
    run: Run, ids: wire.RunIds, entry_id: str, entries: list[tuple[str, dict[str, Any]]]
) -> list[bytes]:
    """The run so far, from the database (contract §5.16): ``workflow_started`` (reason
    ``initial``), each executed node's ``node_started`` / ``node_finished`` without inputs,
    outputs or process data, and for a paused run its current pause events from the log."""
    frames = [data_frame(entry_id, ids.stamp(wire.workflow_started(run)))]
    for node in NodeExecution.objects.filter(run=run).order_by("index", "created_at"):
        base = {
            "id": str(node.id),
            "node_id": node.node_id,
            "node_type": node.node_type,
            "title": node.title,
            "index": node.index,
            "predecessor_node_id": node.predecessor_node_id or None,
            "created_at": wire.unix(node.created_at),
        }
        # Containers announce themselves as iteration_* / loop_* (as on the live stream).
        container = node.node_type in ("iteration", "loop")
        started_name = f"{node.node_type}_started" if container else "node_started"
        finished_name = f"{node.node_type}_completed" if container else "node_finished"
        frames.append(data_frame(entry_id, ids.stamp({"event": started_name, "data": base})))
        if node.finished_at is not None:
            finished = {
                **base,
                "status": node.status,
                "error": node.error or None,
                "elapsed_time": node.elapsed_time,
                "finished_at": wire.unix(node.finished_at),
            }
            frames.append(
                data_frame(entry_id, ids.stamp({"event": finished_name, "data": finished}))
            )
    if run.status == Run.Status.PAUSED:
        start = _segment_start(entries)
        for pause_id, event in _after(entries, start):
            if event.get("event") in ("human_input_required", "workflow_paused"):
                frames.append(data_frame(pause_id, event))
    return frames
