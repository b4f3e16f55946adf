"""What every node shares: its result, its failure, and the run context it sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from apps_runtime.providers.types import Usage

if TYPE_CHECKING:
    from apps_runtime.engine.host import EngineHost
    from apps_runtime.engine.types import Pause, ResumeInput
    from apps_runtime.engine.variables import VariablePool

SOURCE = "source"
FAIL_BRANCH = "fail-branch"


class NodeFailed(Exception):
    """A node could not do its job; goes through retry and the node's error strategy."""

    def __init__(self, message: str, error_type: str = "NodeError", *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.code = code  # a provider's error code, carried to the Outcome


@dataclass
class NodeResult:
    outputs: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    process_data: dict[str, Any] = field(default_factory=dict)
    handle: str = SOURCE
    usage: Usage | None = None
    pause: Pause | None = None
    # Anything a paused node needs again when it resumes (JSON-serialisable).
    pause_state: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    pool: VariablePool
    host: EngineHost
    mode: str
    # Given a node id, a function that streams that node's text output live (or None).
    stream_sink: Callable[[str], Callable[[str], None] | None]
    check_stop: Callable[[], None]

    def input_value(self, selector: Any) -> Any:
        """The value a node reads at ``selector``; a selector naming nothing fails the node."""
        from apps_runtime.engine.variables import MISSING

        value = self.pool.get(selector or [])
        if value is MISSING:
            raise NodeFailed(f"Variable {list(selector or [])} not found", "VariableNotFound")
        return value


class Node:
    type: ClassVar[str] = ""
    # Whether the node calls the model named by its ``model`` key (its provider is checked
    # before a run starts).
    calls_model: ClassVar[bool] = False

    def __init__(self, node_id: str, data: dict[str, Any]) -> None:
        self.id = node_id
        self.data = data
        self.title = str(data.get("title") or node_id)

    @classmethod
    def unavailable_reason(cls, data: dict[str, Any]) -> str | None:
        """Why a node with this ``data`` cannot run on this machine (naming what to install), or
        None; a node type whose runtime is missing makes its apps ``app_unavailable``."""
        return None

    def run(self, ctx: RunContext) -> NodeResult:
        raise NotImplementedError

    def resume(self, ctx: RunContext, resume: ResumeInput, saved: dict[str, Any]) -> NodeResult:
        raise NodeFailed(f"Node {self.title} cannot be resumed", "InvalidResume")

    @property
    def error_strategy(self) -> str | None:
        strategy = self.data.get("error_strategy")
        return strategy if strategy in ("fail-branch", "default-value") else None

    @property
    def retry_enabled(self) -> bool:
        config = self.data.get("retry_config") or {}
        return bool(isinstance(config, dict) and config.get("retry_enabled"))

    @property
    def branch_handles(self) -> bool:
        """Whether the node picks among several out-handles (so streams cannot cross it)."""
        return False
