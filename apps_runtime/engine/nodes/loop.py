"""``loop`` (dsl.md §4.13): its inner graph round after round, at most ``loop_count`` rounds,
until the break conditions hold (checked before the first round and after each, with the if-else
rules of :mod:`apps_runtime.engine.conditions`) or a ``loop-end`` node runs. Loop variables live
at ``[loop_id, label]``; an ``assigner`` inside updates them. Outputs: the loop variables and
``loop_round`` (the rounds run)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from django.conf import settings

from apps_runtime.engine import types as t
from apps_runtime.engine.conditions import ConditionError, conditions_pass
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext, inner_graph
from apps_runtime.engine.templates import render
from apps_runtime.engine.variables import MISSING, VariablePool
from apps_runtime.providers.types import Usage

_EMPTY: dict[str, Any] = {
    "string": "",
    "number": 0,
    "boolean": False,
    "object": {},
}


@register("loop")
class LoopNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        inner = inner_graph(ctx, self)
        count = self._count()
        labels = self._init_variables(ctx)
        inputs = {"loop_count": count}
        inner.emit("loop_started", {"inputs": inputs, "metadata": {"loop_length": count}})
        pool = inner.pool()
        usage = Usage()
        durations: dict[str, float] = {}
        snapshots: dict[str, dict[str, Any]] = {}
        rounds = 0
        reason = "loop_completed"
        if self._should_break(pool):
            reason = "loop_break"
        else:
            for index in range(count):
                ctx.check_stop()
                inner.emit("loop_next", {"index": index, "pre_loop_output": {}})
                started = time.perf_counter()
                outcome = inner.run(pool, index=index)
                durations[str(index)] = round(time.perf_counter() - started, 6)
                if outcome.usage is not None:
                    usage = usage + outcome.usage
                if outcome.status == t.STOPPED:
                    ctx.check_stop()
                if outcome.status in (t.FAILED, t.STOPPED):
                    raise NodeFailed(
                        f"{self.title}: round {index + 1} failed: {outcome.error}", "LoopError"
                    )
                rounds = index + 1
                snapshots[str(index)] = self._values(ctx.pool, labels)
                if "loop-end" in outcome.executed_types or self._should_break(pool):
                    reason = "loop_break"
                    break
        outputs = {**self._values(ctx.pool, labels), "loop_round": rounds}
        return NodeResult(
            inputs=inputs,
            outputs=outputs,
            usage=usage,
            metadata={
                "completed_reason": reason,
                "loop_duration_map": durations,
                "loop_variable_map": snapshots,
                "steps": rounds,
            },
        )

    def _count(self) -> int:
        try:
            count = int(self.data.get("loop_count") or 1)
        except (TypeError, ValueError):
            raise NodeFailed(f"{self.title}: loop_count must be a number", "ConfigError") from None
        limit = settings.LOOP_MAX_COUNT
        if count < 1 or count > limit:
            raise NodeFailed(
                f"{self.title}: loop_count must be between 1 and {limit} (got {count})",
                "ConfigError",
            )
        return count

    def _init_variables(self, ctx: RunContext) -> list[str]:
        labels: list[str] = []
        for variable in self.data.get("loop_variables") or []:
            if not isinstance(variable, dict) or not variable.get("label"):
                continue
            label = str(variable["label"])
            kind = str(variable.get("var_type") or "string")
            raw = variable.get("value")
            if variable.get("value_type") == "variable":
                value = ctx.pool.get(raw if isinstance(raw, list) else [])
                if value is MISSING:
                    raise NodeFailed(
                        f"{self.title}: loop variable {label}: {raw} was not found",
                        "VariableNotFound",
                    )
                value = copy.deepcopy(value)
            else:
                value = _constant(raw, kind, label, self.title)
            ctx.pool.set(self.id, label, value)
            labels.append(label)
        return labels

    def _should_break(self, pool: VariablePool) -> bool:
        conditions = self.data.get("break_conditions") or []
        if not conditions:
            return False
        try:
            return conditions_pass(
                conditions,
                self.data.get("logical_operator"),
                pool.get,
                lambda text: render(text, pool),
            )
        except ConditionError as exc:
            raise NodeFailed(f"{self.title}: {exc}", "ConditionError") from None

    def _values(self, pool: VariablePool, labels: list[str]) -> dict[str, Any]:
        values = pool.node_values(self.id)
        return {label: copy.deepcopy(values.get(label)) for label in labels}


def _constant(raw: Any, kind: str, label: str, title: str) -> Any:
    """A constant loop variable of ``kind`` (text from the editor is read as JSON for the
    non-string types; empty means the type's empty value)."""
    if raw is None or raw == "":
        return [] if kind.startswith("array") else _EMPTY.get(kind)
    if kind == "string":
        return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise NodeFailed(
                f"{title}: loop variable {label} is not a valid {kind}: {raw!r}", "ConfigError"
            ) from None
    expected = {
        "number": (int, float),
        "boolean": (bool,),
        "object": (dict,),
    }.get(kind, (list,) if kind.startswith("array") else (object,))
    if (kind == "number" and isinstance(value, bool)) or not isinstance(value, expected):
        raise NodeFailed(f"{title}: loop variable {label} is not a valid {kind}", "ConfigError")
    return value
