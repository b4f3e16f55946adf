"""The engine's host for one run (``apps_runtime.engine.host.EngineHost``).

It stamps every event with the run's identifiers and appends it to the run's event log (the log is
the only way events reach a client), records node executions as they start and finish, answers
``should_stop`` from the stop flag (cache, then this process's view of the database flag), streams
model output through the providers client, and reads the conversation's history.

Database use is short and closes its connection at once: a worker never holds a connection while
it waits on a model (the pool would starve with many runs waiting at once).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from apps_runtime.engine.host import FileUnavailable
from apps_runtime.runs import wire
from apps_runtime.runs.executor import get_executor
from apps_runtime.runs.models import NodeExecution, Run
from apps_runtime.runs.selectors import conversation_history
from apps_runtime.runs.services import stop_flag_set
from apps_runtime.runs.workspace_host import WorkspaceHost
from config.outage import warn_outage

logger = logging.getLogger("difyapi.runs")

NODE_TEXT_LIMIT = 255
# A node execution starts and finishes with these (containers have their own event names).
RECORDED_EVENTS = frozenset(
    {
        "node_started",
        "node_finished",
        "iteration_started",
        "iteration_completed",
        "loop_started",
        "loop_completed",
    }
)


def given_upload_ids(value: Any) -> frozenset[str]:
    """The ids of every ``local_file`` file value inside ``value`` (inputs, files)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("transfer_method") == "local_file":
                upload_id = item.get("related_id") or item.get("upload_file_id")
                if upload_id:
                    found.add(str(upload_id))
            stack.extend(item.values())
    return frozenset(found)


def _when(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


class RunHost(WorkspaceHost):
    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run_id: uuid.UUID = run.id
        self.workspace_id = run.workspace_id
        self.conversation_id = run.conversation_id
        self.ids = wire.RunIds.of(run)
        self._stopped = threading.Event()
        # The uploads this run was given (validated as the caller's when it started).
        self._uploads = given_upload_ids([run.inputs, run.files])
        self._caller = (run.account_id, run.subject_type, run.subject_email)
        from apps_runtime.events import event_log

        self._log = event_log()

    # -- events --------------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        if name in RECORDED_EVENTS:
            self._record_node(event.get("data") or {})
        self.publish(event)

    def publish(self, event: dict[str, Any]) -> str:
        """Stamp and append one event; returns its log id ("" when the log is unreachable: the
        run goes on and its row records the outcome, decisions 16-faults)."""
        from apps_runtime.events import EventLogUnavailable

        try:
            return self._log.append(self.ids.task_id, self.ids.stamp(event))
        except EventLogUnavailable as exc:
            warn_outage(logger, "run event log", exc, "runs go on without live events")
            return ""

    def _record_node(self, data: dict[str, Any]) -> None:
        node_exec_id = data.get("id")
        try:
            exec_id = uuid.UUID(str(node_exec_id))
        except ValueError:
            logger.warning("run %s: node event without a valid id", self.run_id)
            return
        fields: dict[str, Any] = {
            "run_id": self.run_id,
            "index": int(data.get("index") or 0),
            "node_id": str(data.get("node_id") or "")[:NODE_TEXT_LIMIT],
            "node_type": str(data.get("node_type") or "")[:64],
            "title": str(data.get("title") or "")[:NODE_TEXT_LIMIT],
            "predecessor_node_id": str(data.get("predecessor_node_id") or "")[:NODE_TEXT_LIMIT],
            "inputs": data.get("inputs"),
            "created_at": _when(data.get("created_at")) or timezone.now(),
        }
        if "status" in data:  # node_finished, <container>_completed
            fields.update(
                process_data=data.get("process_data"),
                outputs=data.get("outputs"),
                status=str(data.get("status") or ""),
                error=str(data.get("error") or ""),
                elapsed_time=float(data.get("elapsed_time") or 0.0),
                execution_metadata=data.get("execution_metadata"),
                finished_at=_when(data.get("finished_at")) or timezone.now(),
            )
        try:
            close_old_connections()
            NodeExecution.objects.update_or_create(id=exec_id, defaults=fields)
        except Exception:
            logger.exception("run %s: node execution not recorded", self.run_id)
        finally:
            connection.close()

    # -- stop ----------------------------------------------------------------------------------

    def should_stop(self) -> bool:
        # Thread-safe: the providers client also calls it from its watcher thread.
        if self._stopped.is_set():
            return True
        if stop_flag_set(self.run_id) or get_executor().stop_requested(self.run_id):
            self._stopped.set()
            return True
        return False

    # -- files ---------------------------------------------------------------------------------

    def read_upload(self, upload_id: str, max_bytes: int) -> bytes:
        from uploads.selectors import UploadTooLarge, upload_file_content, upload_owner_filter

        if upload_id not in self._uploads:
            raise FileUnavailable("this run was not given that upload")
        try:
            close_old_connections()
            account_id, subject_type, email = self._caller
            owner = upload_owner_filter(
                account_id=account_id, subject_type=subject_type, email=email
            )
            content = upload_file_content(owner, self.workspace_id, upload_id, max_bytes)
        except UploadTooLarge as exc:
            raise FileUnavailable(str(exc)) from None
        finally:
            connection.close()
        if content is None:
            raise FileUnavailable("the upload no longer exists")
        return content

    def history(self, limit: int | None) -> list[tuple[str, str]]:
        if self.conversation_id is None:
            return []
        try:
            close_old_connections()
            return conversation_history(self.conversation_id, before=self.run_id, limit=limit)
        finally:
            connection.close()

    def agent_history(self, limit: int | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        if self.conversation_id is None:
            return []
        try:
            close_old_connections()
            return conversation_history(
                self.conversation_id, before=self.run_id, limit=limit, with_thoughts=True
            )
        finally:
            connection.close()
