"""The graph walk (dsl.md §2.4, §4.0): edges and branch handles, skip propagation and joins, node
error strategies and retries, stop checks, pause and resume.

Nodes run one at a time in the order they become ready (parallel branches are interleaved, not
concurrent): a node runs once none of its in-edges is still undecided and at least one was taken;
when all of them were skipped it is skipped too, and so are its out-edges.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.utils import timezone

from apps_runtime.engine import types as t
from apps_runtime.engine.host import EngineHost, StopRequested
from apps_runtime.engine.nodes import node_class
from apps_runtime.engine.nodes.base import (
    FAIL_BRANCH,
    SOURCE,
    InnerRun,
    Node,
    NodeFailed,
    NodeResult,
    RunContext,
)
from apps_runtime.engine.templates import parse, render_segment
from apps_runtime.engine.variables import CONVERSATION, VariablePool
from apps_runtime.providers.types import ProviderError, Usage
from apps_runtime.tools.types import ToolHandle, ToolOutput

logger = logging.getLogger(__name__)

UNKNOWN, TAKEN, SKIPPED = "unknown", "taken", "skipped"
ROOT_TYPES = ("start",)
INNER_ROOT_TYPES = ("iteration-start", "loop-start")
# Container nodes announce themselves with <kind>_started / <kind>_completed (no node_* events).
CONTAINER_TYPES = ("iteration", "loop")
NOTE_WRAPPERS = ("custom-note",)
STATE_VERSION = 1


def _now() -> int:
    return int(timezone.now().timestamp())


def _json_safe(value: Any) -> Any:
    """Node data goes into events and JSON columns; anything else is shown as text."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


class GraphError(ValueError):
    pass


class _Shared:
    """What a run's walks share: the outer walk and every walk over a container's inner graph
    (also those on other threads) count steps and exceptions together, emit one event at a time
    and build one answer."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.step = 0
        self.exceptions = 0
        self.answer_parts: list[str] = []


class _BranchHost:
    """The host as seen by one pass that may be cancelled on its own (a parallel iteration
    whose sibling failed): a stop of the run or of the branch."""

    def __init__(self, host: EngineHost, cancel: threading.Event) -> None:
        self._host = host
        self._cancel = cancel

    def emit(self, event: dict[str, Any]) -> None:
        self._host.emit(event)

    def should_stop(self) -> bool:
        return self._cancel.is_set() or self._host.should_stop()

    def chat_stream(self, **kwargs: Any) -> Any:
        return self._host.chat_stream(**kwargs)

    def history(self, limit: int | None) -> list[tuple[str, str]]:
        return self._host.history(limit)

    def agent_history(self, limit: int | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        return self._host.agent_history(limit)

    def read_upload(self, upload_id: str, max_bytes: int) -> bytes:
        return self._host.read_upload(upload_id, max_bytes)

    def tool(self, entry: Mapping[str, Any]) -> ToolHandle:
        return self._host.tool(entry)

    def call_tool(self, tool: ToolHandle, arguments: Any) -> ToolOutput:
        return self._host.call_tool(tool, arguments)


def container_of(raw: dict[str, Any]) -> str | None:
    """The iteration or loop a graph node sits in (``parentId``, or the older data keys)."""
    data = raw.get("data") or {}
    parent = raw.get("parentId")
    if not parent and data.get("isInIteration"):
        parent = data.get("iteration_id") or "?"  # inside an unnamed container: never run
    if not parent and data.get("isInLoop"):
        parent = data.get("loop_id") or "?"
    return str(parent) if parent else None


class Runner:
    """One walk over a graph: the app's top level, or (``container`` given) the inner graph of an
    iteration or loop, run by the same code once per item or round."""

    def __init__(
        self,
        graph: dict[str, Any],
        *,
        mode: str,
        pool: VariablePool,
        host: EngineHost,
        container: str | None = None,
        scope: dict[str, Any] | None = None,
        shared: _Shared | None = None,
        in_parallel: bool = False,
    ):
        self.graph = graph
        self.mode = mode
        self.pool = pool
        self.host = host
        self.container = container
        # Set on the events of inner nodes: iteration_id/iteration_index or loop_id/loop_index.
        self.scope: dict[str, Any] = dict(scope or {})
        self.shared = shared or _Shared()
        self.in_parallel = in_parallel
        self.nodes: dict[str, Node] = {}
        self.types: dict[str, str] = {}
        self.parents: dict[str, str | None] = {}
        for raw in graph.get("nodes") or []:
            if not isinstance(raw, dict) or raw.get("type") in NOTE_WRAPPERS:
                continue
            data = raw.get("data") or {}
            node_id = str(raw.get("id"))
            kind = str(data.get("type") or "")
            cls = node_class(kind)
            if cls is None:
                raise GraphError(f"Node type {kind!r} is not supported")
            self.parents[node_id] = container_of(raw)
            if self.parents[node_id] != container:
                continue  # a node of another level (a container runs its children itself)
            self.nodes[node_id] = cls(node_id, data)
            self.types[node_id] = kind
        self.edges: list[dict[str, str]] = []
        for raw in graph.get("edges") or []:
            if not isinstance(raw, dict):
                continue
            source, target = str(raw.get("source")), str(raw.get("target"))
            if source in self.nodes and target in self.nodes:
                handle = raw.get("sourceHandle") or SOURCE
                self.edges.append({"source": source, "target": target, "handle": str(handle)})
        self.out_edges: dict[str, list[int]] = {n: [] for n in self.nodes}
        self.in_edges: dict[str, list[int]] = {n: [] for n in self.nodes}
        for index, edge in enumerate(self.edges):
            self.out_edges[edge["source"]].append(index)
            self.in_edges[edge["target"]].append(index)
        self.root = self._find_root(graph)
        # Progress (all of it is saved when the run pauses).
        self.edge_state: list[str] = [UNKNOWN] * len(self.edges)
        self.executed: list[str] = []
        self.skipped: set[str] = set()
        self.queue: list[str] = []
        self.predecessor: dict[str, str | None] = {}
        self.paused: dict[str, dict[str, Any]] = {}
        # How much of each answer node this walk sent (an answer inside a container is sent
        # again by every pass).
        self.answer_progress: dict[str, int] = {}
        self.usage = Usage()
        self.outputs: dict[str, Any] = {}
        self.current: tuple[str, str, int] | None = None  # node id, execution id, step
        # What ``conversation.*`` held when this walk began (assigners change it; the run layer
        # saves the changed values to the conversation).
        self.conversation_before = copy.deepcopy(pool.node_values(CONVERSATION))

    def _find_root(self, graph: dict[str, Any]) -> str:
        if self.container is None:
            roots = [n for n, kind in self.types.items() if kind in ROOT_TYPES]
            if len(roots) != 1:
                raise GraphError("The workflow must have exactly one start node")
            return roots[0]
        start = next(
            (
                raw.get("data", {}).get("start_node_id")
                for raw in graph.get("nodes") or []
                if isinstance(raw, dict) and str(raw.get("id")) == self.container
            ),
            None,
        )
        if start is not None and str(start) in self.nodes:
            return str(start)
        roots = [n for n, kind in self.types.items() if kind in INNER_ROOT_TYPES]
        if len(roots) != 1:
            raise GraphError(f"The container {self.container} has no start node")
        return roots[0]

    def descendants(self, container: str) -> set[str]:
        """Every node inside ``container``, at any depth."""
        found: set[str] = set()
        frontier = [container]
        while frontier:
            current = frontier.pop()
            for node_id, parent in self.parents.items():
                if parent == current and node_id not in found:
                    found.add(node_id)
                    frontier.append(node_id)
        return found

    # Counters and the answer are the run's, whichever walk touches them.
    @property
    def step(self) -> int:
        return self.shared.step

    @step.setter
    def step(self, value: int) -> None:
        self.shared.step = value

    @property
    def exceptions(self) -> int:
        return self.shared.exceptions

    @exceptions.setter
    def exceptions(self, value: int) -> None:
        self.shared.exceptions = value

    @property
    def answer_parts(self) -> list[str]:
        return self.shared.answer_parts

    @answer_parts.setter
    def answer_parts(self, value: list[str]) -> None:
        self.shared.answer_parts = value

    def _emit(self, event: dict[str, Any]) -> None:
        with self.shared.lock:
            self.host.emit(event)

    # -- state --------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        usage = self.usage
        return {
            "version": STATE_VERSION,
            "mode": self.mode,
            "pool": self.pool.to_state(),
            "edge_state": list(self.edge_state),
            "executed": list(self.executed),
            "skipped": sorted(self.skipped),
            "queue": list(self.queue),
            "predecessor": dict(self.predecessor),
            "paused": self.paused,
            "step": self.step,
            "answer": "".join(self.answer_parts),
            "answer_progress": dict(self.answer_progress),
            "usage": [usage.prompt_tokens, usage.completion_tokens, usage.total_tokens],
            "exceptions": self.exceptions,
            "outputs": self.outputs,
        }

    @classmethod
    def from_state(cls, graph: dict[str, Any], state: dict[str, Any], host: EngineHost) -> Runner:
        if state.get("version") != STATE_VERSION:
            raise t.ResumeError("The saved run state is not readable by this engine")
        runner = cls(
            graph, mode=state["mode"], pool=VariablePool.from_state(state["pool"]), host=host
        )
        if len(state["edge_state"]) != len(runner.edges):
            raise t.ResumeError("The workflow changed since the run paused")
        runner.edge_state = list(state["edge_state"])
        runner.executed = list(state["executed"])
        runner.skipped = set(state["skipped"])
        runner.queue = list(state["queue"])
        runner.predecessor = dict(state["predecessor"])
        runner.paused = dict(state["paused"])
        runner.step = int(state["step"])
        runner.answer_parts = [state.get("answer", "")] if state.get("answer") else []
        runner.answer_progress = dict(state.get("answer_progress") or {})
        runner.usage = Usage(*state.get("usage", [0, 0, 0]))
        runner.exceptions = int(state.get("exceptions", 0))
        runner.outputs = dict(state.get("outputs") or {})
        return runner

    # -- public -------------------------------------------------------------------------------

    def run(self) -> t.Outcome:
        self.queue.append(self.root)
        self.predecessor[self.root] = None
        return self._loop()

    def resume(self, resume: t.ResumeInput) -> t.Outcome:
        saved = self.paused.get(resume.node_id)
        if saved is None:
            raise t.ResumeError(f"Node {resume.node_id} is not waiting for input")
        node = self.nodes[resume.node_id]
        # Raises ResumeError before anything is emitted when the input does not fit.
        result = node.resume(self._context(), resume, saved.get("state") or {})
        del self.paused[resume.node_id]
        if resume.timed_out and not self._has_route(node.id, result.handle):
            # Nobody answered and the node has no way out for that (issue 10): the run fails.
            failure = NodeFailed(
                f"{node.title}: the form expired without an answer",
                "Timeout",
                code="human_input_form_expired",
            )
            return (
                self._handle_failure(
                    node, saved["execution_id"], failure, time.perf_counter(), _now()
                )
                or self._loop()
            )
        try:
            self._finish(
                node, saved["execution_id"], saved["step"], result, started=time.perf_counter()
            )
        except StopRequested:
            return self._outcome(t.STOPPED)
        return self._loop()

    def _has_route(self, node_id: str, handle: str) -> bool:
        return any(self.edges[i]["handle"] == handle for i in self.out_edges[node_id])

    # -- the walk -----------------------------------------------------------------------------

    def _loop(self) -> t.Outcome:
        try:
            while self.queue:
                node_id = self.queue.pop(0)
                self._check_stop()
                failure = self._execute(self.nodes[node_id])
                if failure is not None:
                    return failure
        except StopRequested:
            self._stopped_current()
            return self._outcome(t.STOPPED)
        if self.paused:
            first_id = next(iter(self.paused))
            pause = _pause_from(self.paused[first_id]["pause"])
            return self._outcome(t.PAUSED, pause=pause, state=self.to_state())
        if self.mode == "advanced-chat" and self.container is None:
            self.outputs = {"answer": "".join(self.answer_parts)}
        status = t.PARTIAL_SUCCEEDED if self.exceptions else t.SUCCEEDED
        return self._outcome(status)

    def _outcome(
        self,
        status: str,
        *,
        error: str | None = None,
        code: str | None = None,
        pause: t.Pause | None = None,
        state: dict[str, Any] | None = None,
    ) -> t.Outcome:
        return t.Outcome(
            status=status,
            outputs=self.outputs if status in (t.SUCCEEDED, t.PARTIAL_SUCCEEDED) else {},
            error=error,
            error_code=code,
            answer="".join(self.answer_parts),
            usage=self.usage,
            total_steps=self.step,
            pause=pause,
            state=state,
            exceptions_count=self.exceptions,
            conversation_variables=self.conversation_changes(),
        )

    def conversation_changes(self) -> dict[str, Any]:
        """``conversation.*`` values that differ from when this walk began."""
        now = self.pool.node_values(CONVERSATION)
        return {
            name: value
            for name, value in now.items()
            if name not in self.conversation_before or self.conversation_before[name] != value
        }

    def _check_stop(self) -> None:
        if self.host.should_stop():
            raise StopRequested()

    def _context(self, node: Node | None = None, execution_id: str = "") -> RunContext:
        inner = None
        if node is not None and self.types.get(node.id) in CONTAINER_TYPES:
            inner = _Inner(self, node, execution_id)
        return RunContext(
            pool=self.pool,
            host=self.host,
            mode=self.mode,
            stream_sink=self._stream_sink,
            check_stop=self._check_stop,
            inner=inner,
        )

    def _base_data(self, node: Node, execution_id: str, step: int) -> dict[str, Any]:
        return {
            "id": execution_id,
            "node_id": node.id,
            "node_type": self.types[node.id],
            "title": node.title,
            "index": step,
            "predecessor_node_id": self.predecessor.get(node.id),
        }

    def _execute(self, node: Node) -> t.Outcome | None:
        """Run one node (with retries and its error strategy); a failed run's Outcome, or None."""
        with self.shared.lock:
            self.step += 1
            step = self.step
        execution_id = str(uuid.uuid4())
        created = _now()
        self.current = (node.id, execution_id, step)
        data = self._base_data(node, execution_id, step)
        if self.types[node.id] not in CONTAINER_TYPES:  # a container announces itself
            self._emit(
                {
                    "event": "node_started",
                    "data": {
                        **data,
                        "inputs": None,
                        "created_at": created,
                        "extras": {},
                        "iteration_id": self.scope.get("iteration_id"),
                        "loop_id": self.scope.get("loop_id"),
                        **self.scope,
                    },
                }
            )
        started = time.perf_counter()
        config = node.data.get("retry_config") or {}
        retries = _int(config.get("max_retries"), 0) if node.retry_enabled else 0
        interval = _int(config.get("retry_interval"), 0) / 1000
        attempt = 0
        while True:
            try:
                result = node.run(self._context(node, execution_id))
                if result.pause is not None and self.container is not None:
                    raise NodeFailed(
                        f"{node.title}: a run cannot wait for input inside an iteration or loop",
                        "PauseNotSupported",
                    )
                break
            except StopRequested:
                raise
            except NodeFailed as exc:
                failure: NodeFailed = exc
            except ProviderError as exc:
                failure = NodeFailed(exc.message, type(exc).__name__, code=exc.code)
            except Exception as exc:  # a bug in a node must not take the run down with a 500
                logger.exception("node %s (%s) crashed", node.id, self.types[node.id])
                failure = NodeFailed(str(exc) or type(exc).__name__, type(exc).__name__)
            if attempt < retries:
                attempt += 1
                self._emit(
                    {
                        "event": "node_retry",
                        "data": {
                            **data,
                            "created_at": created,
                            "error": failure.message,
                            "retry_index": attempt,
                        },
                    }
                )
                self._sleep(interval)
                continue
            return self._handle_failure(node, execution_id, failure, started, created, step)
        if result.pause is not None:
            self.paused[node.id] = {
                "execution_id": execution_id,
                "step": step,
                "pause": _pause_to(result.pause),
                "state": result.pause_state,
            }
            self.current = None
            return None
        self._finish(node, execution_id, step, result, started=started, created=created)
        return None

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self._check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))

    def _handle_failure(
        self,
        node: Node,
        execution_id: str,
        failure: NodeFailed,
        started: float,
        created: int,
        step: int | None = None,
    ) -> t.Outcome | None:
        step = self.step if step is None else step
        strategy = node.error_strategy
        error_outputs = {"error_message": failure.message, "error_type": failure.error_type}
        if strategy is None:
            self._emit_finished(
                node, execution_id, step, NodeResult(), "failed", failure.message, started, created
            )
            self.current = None
            return self._outcome(t.FAILED, error=failure.message, code=failure.code)
        with self.shared.lock:
            self.exceptions += 1
        if strategy == "default-value":
            outputs = {**_default_values(node.data.get("default_value")), **error_outputs}
            result = NodeResult(outputs=outputs, handle=SOURCE)
        else:
            result = NodeResult(outputs=error_outputs, handle=FAIL_BRANCH)
        self._finish(
            node,
            execution_id,
            step,
            result,
            started=started,
            created=created,
            status="exception",
            error=failure.message,
        )
        return None

    def _finish(
        self,
        node: Node,
        execution_id: str,
        step: int,
        result: NodeResult,
        *,
        started: float,
        created: int | None = None,
        status: str = "succeeded",
        error: str | None = None,
    ) -> None:
        self.pool.set_outputs(node.id, result.outputs)
        if result.usage is not None:
            self.usage = self.usage + result.usage
        kind = self.types[node.id]
        if kind == "end" and self.container is None:
            self.outputs.update(result.outputs)
        if kind == "answer":
            self._emit_answer(node)
        self._emit_finished(node, execution_id, step, result, status, error, started, created)
        self.executed.append(node.id)
        self.current = None
        self._route(node.id, result.handle)

    def _emit_finished(
        self,
        node: Node,
        execution_id: str,
        step: int,
        result: NodeResult,
        status: str,
        error: str | None,
        started: float,
        created: int | None,
    ) -> None:
        usage = result.usage
        metadata: dict[str, Any] = {}
        if usage is not None:
            metadata = {"total_tokens": usage.total_tokens, "total_price": "0", "currency": "USD"}
        if status == "exception":
            metadata["error_strategy"] = node.error_strategy
        metadata.update(self.scope)
        metadata.update(result.metadata)
        kind = self.types[node.id]
        data = {
            **self._base_data(node, execution_id, step),
            "inputs": _json_safe(result.inputs),
            "process_data": _json_safe(result.process_data),
            "outputs": _json_safe(result.outputs),
            "status": status,
            "error": error,
            "elapsed_time": round(time.perf_counter() - started, 6),
            "execution_metadata": _json_safe(metadata),
            "created_at": created if created is not None else _now(),
            "finished_at": _now(),
            "files": [],
            "extras": {},
            "iteration_id": self.scope.get("iteration_id"),
            "loop_id": self.scope.get("loop_id"),
        }
        if kind in CONTAINER_TYPES:
            # iteration_completed / loop_completed (Dify sends no node_finished for these).
            data["total_tokens"] = usage.total_tokens if usage is not None else 0
            data["steps"] = int(result.metadata.get("steps", 0) or 0)
            self._emit({"event": f"{kind}_completed", "data": data})
            return
        self._emit({"event": "node_finished", "data": data})

    def _stopped_current(self) -> None:
        if self.current is None:
            return
        node_id, execution_id, step = self.current
        node = self.nodes[node_id]
        self._emit_finished(
            node,
            execution_id,
            step,
            NodeResult(),
            "stopped",
            "stopped by user",
            time.perf_counter(),
            None,
        )
        self.current = None

    # -- routing ------------------------------------------------------------------------------

    def _route(self, node_id: str, handle: str) -> None:
        targets: list[str] = []
        for index in self.out_edges[node_id]:
            edge = self.edges[index]
            self.edge_state[index] = TAKEN if edge["handle"] == handle else SKIPPED
            if edge["target"] not in targets:
                targets.append(edge["target"])
            if edge["handle"] == handle:
                self.predecessor.setdefault(edge["target"], node_id)
        for target in targets:
            self._settle(target)

    def _settle(self, node_id: str) -> None:
        if node_id in self.executed or node_id in self.skipped or node_id in self.queue:
            return
        if node_id in self.paused:
            return
        states = [self.edge_state[i] for i in self.in_edges[node_id]]
        if UNKNOWN in states:
            return
        if TAKEN in states:
            self.queue.append(node_id)
            return
        self.skipped.add(node_id)
        targets: list[str] = []
        for index in self.out_edges[node_id]:
            self.edge_state[index] = SKIPPED
            target = self.edges[index]["target"]
            if target not in targets:
                targets.append(target)
        for target in targets:
            self._settle(target)

    # -- streaming ----------------------------------------------------------------------------

    def _unconditional_successors(self, node_id: str) -> list[str]:
        """Nodes that will surely run once ``node_id`` succeeds (reached only through ``source``
        edges of nodes that cannot branch or fail over)."""
        seen: list[str] = []
        frontier = [node_id]
        while frontier:
            current = frontier.pop(0)
            for index in self.out_edges[current]:
                edge = self.edges[index]
                if edge["handle"] != SOURCE:
                    continue
                target = edge["target"]
                if target in seen:
                    continue
                seen.append(target)
                node = self.nodes[target]
                if not node.branch_handles and node.error_strategy != "fail-branch":
                    frontier.append(target)
        return seen

    def _stream_sink(self, node_id: str) -> Callable[[str], None] | None:
        node = self.nodes[node_id]
        if node.error_strategy is not None or node.retry_enabled:
            return None  # the text could still be replaced by a retry or a default value
        if self.in_parallel:
            return None  # branches running at once would interleave their text
        selector = (node_id, "text")
        for target in self._unconditional_successors(node_id):
            kind = self.types[target]
            if self.mode == "workflow" and kind == "end":
                outputs = self.nodes[target].data.get("outputs") or []
                if any(tuple(o.get("value_selector") or ()) == selector for o in outputs):
                    return self._text_chunk_sink(list(selector))
            if self.mode == "advanced-chat" and kind == "answer":
                # Only the next answer may stream: a later one going first would reorder the reply.
                return self._answer_sink(target, selector)
        return None

    def _text_chunk_sink(self, selector: list[str]) -> Callable[[str], None]:
        def sink(text: str) -> None:
            if text:
                self._emit(
                    {
                        "event": "text_chunk",
                        "data": {"text": text, "from_variable_selector": selector},
                    }
                )

        return sink

    def _answer_sink(
        self, answer_id: str, selector: tuple[str, str]
    ) -> Callable[[str], None] | None:
        """Stream ``selector`` live as part of answer node ``answer_id`` when every piece of the
        answer before it is already known."""
        segments = parse(str(self.nodes[answer_id].data.get("answer") or ""))
        done = self.answer_progress.get(answer_id, 0)
        position = None
        for index in range(done, len(segments)):
            segment = segments[index]
            if segment.selector == selector:
                position = index
                break
            if segment.selector is not None and not self.pool.exists(list(segment.selector)):
                return None
        if position is None:
            return None
        prefix = "".join(
            render_segment(s, self.pool, markdown=True) for s in segments[done:position]
        )
        state = {"prefix_sent": False}

        def sink(text: str) -> None:
            if not state["prefix_sent"]:
                state["prefix_sent"] = True
                self._emit_message(prefix)
                self.answer_progress[answer_id] = position + 1
            self._emit_message(text)

        return sink

    def _emit_message(self, text: str) -> None:
        if text:
            self.answer_parts.append(text)
            self._emit({"event": "message", "answer": text})

    def _emit_answer(self, node: Node) -> None:
        """Send what of an answer node was not already streamed live."""
        segments = parse(str(node.data.get("answer") or ""))
        done = self.answer_progress.get(node.id, 0)
        rest = "".join(render_segment(s, self.pool, markdown=True) for s in segments[done:])
        self.answer_progress[node.id] = len(segments)
        self._emit_message(rest)


class _Inner:
    """A container node's inner graph (dsl.md §4.13): each pass is a :class:`Runner` over the
    nodes whose parent is the container, sharing the run's host, counters and stop."""

    def __init__(self, runner: Runner, node: Node, execution_id: str) -> None:
        self.runner = runner
        self.node = node
        self.kind = runner.types[node.id]
        self.execution_id = execution_id
        self.parallel_allowed = not runner.in_parallel
        self._inside = runner.descendants(node.id)

    def pool(self, *, private: tuple[str, ...] = ()) -> VariablePool:
        return self.runner.pool.overlay([*self._inside, *private])

    def run(
        self, pool: VariablePool, *, index: int, cancel: threading.Event | None = None
    ) -> InnerRun:
        runner = self.runner
        host: EngineHost = runner.host if cancel is None else _BranchHost(runner.host, cancel)
        try:
            child = Runner(
                runner.graph,
                mode=runner.mode,
                pool=pool,
                host=host,
                container=self.node.id,
                scope={f"{self.kind}_id": self.node.id, f"{self.kind}_index": index},
                shared=runner.shared,
                in_parallel=runner.in_parallel or cancel is not None,
            )
        except GraphError as exc:
            raise NodeFailed(str(exc), "GraphError") from None
        outcome = child.run()
        return InnerRun(
            status=outcome.status,
            error=outcome.error,
            usage=child.usage,
            executed_types=tuple(child.types[n] for n in child.executed),
        )

    def emit(self, name: str, data: dict[str, Any]) -> None:
        event_data: dict[str, Any] = {
            "id": self.execution_id,
            "node_id": self.node.id,
            "node_type": self.kind,
            "title": self.node.title,
            "created_at": _now(),
            "extras": {},
        }
        if name.endswith("_started"):
            current = self.runner.current
            event_data["index"] = current[2] if current else self.runner.step
            event_data["predecessor_node_id"] = self.runner.predecessor.get(self.node.id)
            event_data["iteration_id"] = self.runner.scope.get("iteration_id")
            event_data["loop_id"] = self.runner.scope.get("loop_id")
        event_data.update(data)
        self.runner._emit({"event": name, "data": _json_safe(event_data)})


def _int(value: Any, default: int) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return default


def _default_values(items: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items or []:
        if not isinstance(item, dict) or not item.get("key"):
            continue
        value = item.get("value")
        kind = str(item.get("type") or "string")
        if kind != "string" and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        values[str(item["key"])] = value
    return values


def _pause_to(pause: t.Pause) -> dict[str, Any]:
    return {
        "node_id": pause.node_id,
        "node_title": pause.node_title,
        "form_content": pause.form_content,
        "inputs": pause.inputs,
        "actions": pause.actions,
        "timeout_seconds": pause.timeout_seconds,
        "delivery_methods": pause.delivery_methods,
        "resolved_default_values": pause.resolved_default_values,
    }


def _pause_from(data: dict[str, Any]) -> t.Pause:
    return t.Pause(**data)
