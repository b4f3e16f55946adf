"""What every node shares: its result, its failure, and the run context it sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from apps_runtime.providers.types import Usage

if TYPE_CHECKING:
    import threading

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
    # Added to the node's ``execution_metadata`` (a container's durations, rounds, ...).
    metadata: dict[str, Any] = field(default_factory=dict)
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
    # For container nodes (iteration, loop): their inner graph, run by the runner's own walk.
    inner: InnerGraph | None = None

    def input_value(self, selector: Any) -> Any:
        """The value a node reads at ``selector``; a selector naming nothing fails the node."""
        from apps_runtime.engine.variables import MISSING

        value = self.pool.get(selector or [])
        if value is MISSING:
            raise NodeFailed(f"Variable {list(selector or [])} not found", "VariableNotFound")
        return value


def inner_graph(ctx: RunContext, node: Node) -> InnerGraph:
    """The container ``node``'s inner graph, which the runner hands to containers only."""
    if ctx.inner is None:
        raise NodeFailed(f"{node.title}: this node runs only as a container", "GraphError")
    return ctx.inner


class InnerGraph(Protocol):
    """What the runner gives a container node: one walk over the nodes inside it."""

    execution_id: str
    # Whether passes may run on threads (False inside a branch that already runs in parallel).
    parallel_allowed: bool

    def pool(self, *, private: tuple[str, ...] = ()) -> VariablePool:
        """A pool for one pass: the inner nodes' outputs (and ``private`` scopes) are its own."""
        ...

    def run(
        self, pool: VariablePool, *, index: int, cancel: threading.Event | None = None
    ) -> InnerRun:
        """Walk the inner graph once from its start node (pass number ``index``); a set
        ``cancel`` stops the pass like a stop of the run (within one node)."""
        ...

    def emit(self, name: str, data: dict[str, Any]) -> None:
        """Publish a container event (``iteration_next``, ...) with the node's identity."""
        ...


@dataclass
class InnerRun:
    """How one pass over a container's inner graph ended."""

    status: str  # the engine's outcome statuses: succeeded, partial-succeeded, failed, stopped
    error: str | None = None
    usage: Usage | None = None
    executed_types: tuple[str, ...] = ()


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
