"""The one hook through which the run layer reaches human input (flows §6).

The dependency runs one way: ``apps_runtime.forms`` imports the run layer, never the reverse. A run
job that pauses, or resumes, needs two things only the forms know: the form created with the pause
(and the events announcing it), and the event saying how the form was closed. Forms register both
here from ``AppConfig.ready()``; the run layer calls :func:`pause_hooks` and knows nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apps_runtime.runs.models import Run

Event = dict[str, Any]


@dataclass(frozen=True)
class PauseHooks:
    # Inside the transaction that marks the run paused: create what the pause asks for and return
    # the events to append after it (``human_input_required``, ``workflow_paused``).
    pause_events: Callable[[Run, Any], list[Event]]
    # Before a resume continues: the event saying how the pause ended (answered, timed out).
    resume_event: Callable[[Run, Any], Event]


_hooks: PauseHooks | None = None


def pause_hooks_register(hooks: PauseHooks) -> None:
    """Register the pause handlers (again: replaces them; ``ready()`` may run twice)."""
    global _hooks
    _hooks = hooks


def pause_hooks() -> PauseHooks:
    if _hooks is None:
        raise RuntimeError("no pause hooks registered: AppConfig.ready() did not run")
    return _hooks
