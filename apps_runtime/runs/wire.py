"""The run's events on the wire (contract §6.2, decisions §6): the identifiers every event carries,
the host-emitted events (``workflow_started``, ``workflow_finished``, ``message_end``, ``error``),
the terminal sequences per mode, and when a stream ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps_runtime.models import AppMode
from apps_runtime.runs.models import Run

WORKFLOW_FAMILY = frozenset({AppMode.WORKFLOW, AppMode.ADVANCED_CHAT})
MESSAGE_MODES = frozenset(
    {AppMode.CHAT, AppMode.COMPLETION, AppMode.ADVANCED_CHAT, AppMode.AGENT_CHAT}
)

# Events that carry ``workflow_run_id`` (decisions §6, settled details).
WORKFLOW_EVENTS = frozenset(
    {
        "workflow_started",
        "node_started",
        "node_finished",
        "node_retry",
        "iteration_started",
        "iteration_next",
        "iteration_completed",
        "loop_started",
        "loop_next",
        "loop_completed",
        "agent_log",
        "text_chunk",
        "workflow_finished",
        "human_input_required",
        "human_input_form_filled",
        "human_input_form_timeout",
        "workflow_paused",
        "error",
    }
)
# Events that carry the message identifiers in the chat family.
MESSAGE_EVENTS = frozenset(
    {"message", "message_end", "message_replace", "error", "agent_message", "agent_thought"}
)

# Status words of a finished run (``partial-succeeded`` is a success with node failures).
SUCCESS_STATUSES = frozenset({Run.Status.SUCCEEDED, Run.Status.PARTIAL_SUCCEEDED})

# Error codes and HTTP-like statuses for ``error`` events (decisions §8).
STATUS_BY_CODE = {
    "rate_limit_error": 429,
    "provider_not_initialize": 400,
    "completion_request_error": 400,
    "internal_server_error": 500,
}


def unix(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


@dataclass(frozen=True)
class RunIds:
    """What a run's events are stamped with."""

    task_id: str
    mode: str
    workflow_run_id: str | None
    message_id: str | None
    conversation_id: str | None
    created_at: int

    @classmethod
    def of(cls, run: Run) -> RunIds:
        message_id = None
        if run.mode in MESSAGE_MODES:
            message = getattr(run, "message", None)
            message_id = str(message.id) if message is not None else None
        return cls(
            task_id=str(run.id),
            mode=run.mode,
            workflow_run_id=str(run.workflow_run_id) if run.workflow_run_id else None,
            message_id=message_id,
            conversation_id=str(run.conversation_id) if run.conversation_id else None,
            created_at=unix(run.created_at) or 0,
        )

    def stamp(self, event: dict[str, Any]) -> dict[str, Any]:
        """``event`` with the run's identifiers (the engine emits events without them)."""
        name = event.get("event")
        stamped: dict[str, Any] = {"event": name, "task_id": self.task_id}
        if self.workflow_run_id and name in WORKFLOW_EVENTS:
            stamped["workflow_run_id"] = self.workflow_run_id
        if self.message_id and name in MESSAGE_EVENTS:
            stamped["id"] = self.message_id
            stamped["message_id"] = self.message_id
            if self.conversation_id:
                stamped["conversation_id"] = self.conversation_id
        stamped.update({k: v for k, v in event.items() if k != "event"})
        if name in MESSAGE_EVENTS and self.message_id:
            stamped.setdefault("created_at", self.created_at)
        return stamped


def workflow_started(run: Run, *, reason: str = "initial") -> dict[str, Any]:
    return {
        "event": "workflow_started",
        "data": {
            "id": str(run.workflow_run_id),
            "workflow_id": str(run.workflow_version_id or ""),
            "inputs": run.inputs,
            "created_at": unix(run.created_at),
            "reason": reason,
        },
    }


def created_by(run: Run) -> dict[str, Any]:
    if run.account_id is not None:
        return {"id": str(run.account_id), "email": run.subject_email}
    return {"id": run.subject_email, "email": run.subject_email}


def workflow_finished(run: Run) -> dict[str, Any]:
    """Built from the run row, so the live stream and a re-attach after the log expired agree."""
    return {
        "event": "workflow_finished",
        "data": {
            "id": str(run.workflow_run_id),
            "workflow_id": str(run.workflow_version_id or ""),
            "status": run.status,
            "outputs": run.outputs or {},
            "error": run.error or None,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_by": created_by(run),
            "created_at": unix(run.created_at),
            "finished_at": unix(run.finished_at),
            "exceptions_count": 0,
            "files": [],
        },
    }


def usage_metadata(run: Run) -> dict[str, Any]:
    return {
        "prompt_tokens": run.prompt_tokens,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_tokens": run.completion_tokens,
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_tokens": run.total_tokens,
        "total_price": "0",
        "currency": "USD",
        "latency": run.elapsed_time,
    }


def message_end(run: Run) -> dict[str, Any]:
    metadata: dict[str, Any] = {"usage": usage_metadata(run), "retriever_resources": []}
    if run.status == Run.Status.STOPPED:
        metadata["stopped"] = True
    return {"event": "message_end", "metadata": metadata, "files": []}


def error_event(run: Run) -> dict[str, Any]:
    code = run.error_code or "internal_server_error"
    return {
        "event": "error",
        "status": STATUS_BY_CODE.get(code, 400),
        "code": code,
        "message": run.error or "the run failed",
    }


def terminal_events(run: Run) -> list[dict[str, Any]]:
    """The events that end a finished run's stream, per mode (decisions §6)."""
    events: list[dict[str, Any]] = []
    if run.mode in WORKFLOW_FAMILY:
        events.append(workflow_finished(run))
    if run.status == Run.Status.FAILED:
        events.append(error_event(run))
    elif run.mode in MESSAGE_MODES:
        events.append(message_end(run))
    return events


def ends_stream(mode: str, event: dict[str, Any], *, continue_on_pause: bool = False) -> bool:
    """Whether ``event`` is the last one a stream of a ``mode`` run sends."""
    name = event.get("event")
    if name in ("error", "message_end"):
        return True
    if name == "workflow_paused":
        return not continue_on_pause
    if name == "workflow_finished" and mode == AppMode.WORKFLOW:
        status = (event.get("data") or {}).get("status")
        return status != Run.Status.FAILED  # a failure still sends its ``error``
    return False
