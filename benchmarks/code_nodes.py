"""Code nodes: executions per second and the sandbox's overhead (run by ``benchmarks.run``).

Per language, on this machine:

- ``bare_ms``: the median wall time of a bare ``python3 -c pass`` / ``node -e 0`` process (in
  the sandbox's clean environment);
- ``cold_ms``: the median wall time of ``sandbox.execute`` of an empty ``main`` that starts its
  own sandbox (bubblewrap, prlimit, the runtime, the launcher, the JSON round trip);
- ``warm_ms``: the same when a spare sandbox is waiting (``SANDBOX_SPARES``; the default);
- ``*_overhead_ms``: each minus ``bare_ms``;
- ``per_second``: code-node executions per second, one after another, through the engine
  (a start → code → end workflow, spares on) for BENCH_CODE_SECONDS.

Prints one JSON line (the last line of stdout). Run alone: ``python -m benchmarks.code_nodes``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-code-nodes")
django.setup()

from django.conf import settings  # noqa: E402

from apps_runtime import sandbox  # noqa: E402
from apps_runtime.engine import run_workflow  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_CODE_SAMPLES", "30"))
SECONDS = float(os.environ.get("BENCH_CODE_SECONDS", "3"))

EMPTY = {
    "python3": "def main():\n    return {}",
    "javascript": "function main() { return {} }",
}
ECHO = {
    "python3": "def main(x):\n    return {'y': x + 1}",
    "javascript": "function main({x}) { return {y: x + 1} }",
}


class _Host:
    def emit(self, event: dict[str, Any]) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def _median_ms(action: Any) -> float:
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _bare(language: str) -> None:
    argv = (
        [settings.SANDBOX_PYTHON, "-c", "pass"]
        if language == "python3"
        else [settings.SANDBOX_NODE, "-e", "0"]
    )
    # The sandbox's own clean environment: the server's may slow a runtime down (node reads
    # NODE_EXTRA_CA_CERTS at start, some 40 ms here).
    subprocess.run(argv, check=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


def _graph(language: str) -> dict[str, Any]:
    def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
        return {"id": node_id, "data": {"type": kind, "title": node_id, **data}}

    return {
        "nodes": [
            node("start", "start", variables=[]),
            node(
                "code",
                "code",
                code_language=language,
                code=ECHO[language],
                variables=[{"variable": "x", "value_selector": ["sys", "n"]}],
                outputs={"y": {"type": "number", "children": None}},
            ),
            node("end", "end", outputs=[{"variable": "y", "value_selector": ["code", "y"]}]),
        ],
        "edges": [
            {"source": "start", "target": "code", "sourceHandle": "source"},
            {"source": "code", "target": "end", "sourceHandle": "source"},
        ],
    }


def _per_second(language: str) -> float:
    graph = _graph(language)
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        outcome = run_workflow(
            graph,
            mode="workflow",
            inputs={},
            system={"n": done},
            environment={},
            conversation={},
            host=_Host(),  # type: ignore[arg-type]
        )
        if outcome.status != "succeeded" or outcome.outputs != {"y": done + 1}:
            raise SystemExit(f"{language} code node failed: {outcome.error}")
        done += 1
    return done / (time.perf_counter() - started)


def _execute(language: str, pause: float = 0.0) -> None:
    if pause:
        time.sleep(pause)  # not timed: the spare started after the last execution is ready
    started = time.perf_counter()
    result = sandbox.execute(language, EMPTY[language], {})
    if not result.ok:
        raise SystemExit(f"{language} sandbox failed: {result.error}")
    _timed.append((time.perf_counter() - started) * 1000)


_timed: list[float] = []


def _sandbox_ms(language: str, spares: int) -> float:
    settings.SANDBOX_SPARES = spares
    pause = 0.3 if spares else 0.0
    _timed.clear()
    _execute(language, pause)  # warm-up
    _timed.clear()
    for _ in range(SAMPLES):
        _execute(language, pause)
    return statistics.median(_timed)


def measure() -> dict[str, Any]:
    reason = sandbox.unavailable_reason("javascript")
    if reason is not None:
        return {"unavailable": reason}
    figures: dict[str, Any] = {}
    for language in sandbox.LANGUAGES:
        bare = _median_ms(lambda lang=language: _bare(lang))  # type: ignore[misc]
        cold = _sandbox_ms(language, 0)
        warm = _sandbox_ms(language, 1)
        figures[language] = {
            "bare_ms": round(bare, 1),
            "cold_ms": round(cold, 1),
            "warm_ms": round(warm, 1),
            "cold_overhead_ms": round(cold - bare, 1),
            "warm_overhead_ms": round(warm - bare, 1),
            "per_second": round(_per_second(language), 1),
        }
    return figures


if __name__ == "__main__":
    print(json.dumps(measure()))
