"""``iteration`` (dsl.md §4.13): its inner graph once per item of a list, one item after another or
(``is_parallel``) on a bounded pool of threads owned by this node for the length of the run's
pass; results in input order either way. ``iteration-start`` is the inner graph's entry.

The inner graph is walked by the runner's own code (``ctx.inner``); inner nodes see
``[iteration_id, "item"]`` and ``[iteration_id, "index"]``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from django.conf import settings

from apps_runtime.engine import types as t
from apps_runtime.engine.host import StopRequested
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import (
    InnerGraph,
    InnerRun,
    Node,
    NodeFailed,
    NodeResult,
    RunContext,
    inner_graph,
)
from apps_runtime.engine.variables import MISSING
from apps_runtime.providers.types import Usage

TERMINATED = "terminated"
CONTINUE_ON_ERROR = "continue-on-error"
REMOVE_ABNORMAL = "remove-abnormal-output"
ERROR_MODES = (TERMINATED, CONTINUE_ON_ERROR, REMOVE_ABNORMAL)
_DROPPED = object()
_WAIT_SECONDS = 0.1


@register("iteration-start", "loop-start", "loop-end")
class PassNode(Node):
    """The entry of a container's inner graph, and ``loop-end`` (the loop sees that it ran)."""

    def run(self, ctx: RunContext) -> NodeResult:
        return NodeResult()


@register("iteration")
class IterationNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        inner = inner_graph(ctx, self)
        items = self._items(ctx)
        mode = self.data.get("error_handle_mode") or TERMINATED
        if mode not in ERROR_MODES:
            raise NodeFailed(f"{self.title}: unknown error_handle_mode {mode!r}", "ConfigError")
        inner.emit(
            "iteration_started",
            {
                "inputs": {"iterator_selector": items},
                "metadata": {"iterator_length": len(items)},
            },
        )
        workers = self._workers(len(items), inner)
        state = _Progress(len(items))
        if workers > 1:
            self._parallel(ctx, inner, items, mode, workers, state)
        else:
            for index, item in enumerate(items):
                ctx.check_stop()
                self._one(ctx, inner, index, item, mode, state, None)
        output = [value for value in state.results if value is not _DROPPED]
        flatten = self.data.get("flatten_output")
        if (flatten is None or flatten) and output and all(isinstance(v, list) for v in output):
            output = [element for value in output for element in value]
        return NodeResult(
            inputs={"iterator_selector": items},
            outputs={"output": output},
            usage=state.usage,
            metadata={
                "iteration_duration_map": {str(i): d for i, d in enumerate(state.durations)},
                "steps": len(items),
            },
        )

    # -- input ---------------------------------------------------------------------------------

    def _items(self, ctx: RunContext) -> list[Any]:
        selector = self.data.get("iterator_selector") or []
        value = ctx.pool.get(selector)
        if value is MISSING:
            raise NodeFailed(f"{self.title}: the list {selector} was not found", "IteratorError")
        if value is None:
            return []
        if not isinstance(value, list):
            raise NodeFailed(
                f"{self.title}: {selector} is not a list (got {type(value).__name__})",
                "IteratorError",
            )
        limit = settings.ITERATION_MAX_ITEMS
        if len(value) > limit:
            raise NodeFailed(
                f"{self.title}: {len(value)} items is more than the limit of {limit}",
                "IteratorError",
            )
        return value

    def _workers(self, count: int, inner: InnerGraph) -> int:
        if not self.data.get("is_parallel") or not inner.parallel_allowed or count < 2:
            return 1
        try:
            wanted = int(self.data.get("parallel_nums") or 10)
        except (TypeError, ValueError):
            wanted = 10
        return max(1, min(wanted, settings.ITERATION_MAX_PARALLEL, count))

    # -- one item --------------------------------------------------------------------------------

    def _one(
        self,
        ctx: RunContext,
        inner: InnerGraph,
        index: int,
        item: Any,
        mode: str,
        state: _Progress,
        cancel: threading.Event | None,
    ) -> InnerRun:
        inner.emit("iteration_next", {"index": index})
        pool = inner.pool(private=(self.id,))
        pool.set(self.id, "item", item)
        pool.set(self.id, "index", index)
        started = time.perf_counter()
        outcome = inner.run(pool, index=index, cancel=cancel)
        state.finish(index, outcome, time.perf_counter() - started)
        if outcome.status == t.STOPPED:
            ctx.check_stop()  # the run was stopped: this raises
            return outcome  # only this branch was cancelled (a sibling failed)
        if outcome.status == t.FAILED:
            if mode == TERMINATED:
                raise NodeFailed(
                    f"{self.title}: item {index} failed: {outcome.error}", "IterationError"
                )
            state.results[index] = None if mode == CONTINUE_ON_ERROR else _DROPPED
            return outcome
        value = pool.get(self.data.get("output_selector") or [])
        state.results[index] = None if value is MISSING else value
        return outcome

    def _parallel(
        self,
        ctx: RunContext,
        inner: InnerGraph,
        items: list[Any],
        mode: str,
        workers: int,
        state: _Progress,
    ) -> None:
        """Items on ``workers`` threads; a stop or a failure (``terminated``) cancels the items
        not started and reaches the running ones at their next node; every thread has ended when
        this returns or raises."""
        cancel = threading.Event()
        failure: BaseException | None = None
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"iter-{self.id}")
        try:
            pending: set[Future[InnerRun]] = {
                executor.submit(self._one, ctx, inner, i, item, mode, state, cancel)
                for i, item in enumerate(items)
            }
            while pending and failure is None:
                done, pending = wait(pending, timeout=_WAIT_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    error = future.exception()
                    if error is not None and failure is None:
                        failure = error
                if failure is None and ctx.host.should_stop():
                    failure = StopRequested()
        finally:
            cancel.set()  # nothing is left to cancel when every item finished
            executor.shutdown(wait=True, cancel_futures=True)
        if failure is not None:
            raise failure


class _Progress:
    """Results in input order, durations and usage of an iteration's items (thread-safe)."""

    def __init__(self, count: int) -> None:
        self.results: list[Any] = [None] * count
        self.durations: list[float] = [0.0] * count
        self.usage = Usage()
        self._lock = threading.Lock()

    def finish(self, index: int, outcome: InnerRun, seconds: float) -> None:
        with self._lock:
            self.durations[index] = round(seconds, 6)
            if outcome.usage is not None:
                self.usage = self.usage + outcome.usage
