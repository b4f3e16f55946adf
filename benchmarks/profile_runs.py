"""`python -m benchmarks.profile_runs`: where a run's server time goes (pyinstrument), for the
README's account of the runs targets (issue 21).

With the bench environment (``benchmarks.run``'s production settings; DATABASE_URL/REDIS_URL as
given), it seeds the apps of ``benchmarks.runs``, then profiles, in this one thread, PROFILE_RUNS
runs of each app as the server does them: ``prestream.start_run`` (the pre-stream step: token,
app, body, run row, job submission) and the job (``jobs.execute``), with the LLM app against
``tests.llm_server`` at the bench's pace. Prints each app's wall time per run split into the two
steps, then pyinstrument's text profile of the LLM app's runs (pace excluded: the model server
sleeps in its own thread, so the profile shows the time this thread spends).
"""

from __future__ import annotations

import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from pyinstrument import Profiler  # noqa: E402

from apps_runtime.runs import executor as executor_module  # noqa: E402
from apps_runtime.runs import jobs, prestream  # noqa: E402
from apps_runtime.runs.streams import stream_slot_release  # noqa: E402
from benchmarks.runs import ECHO_CHAT_BODY, ECHO_WORKFLOW_BODY, LLM_BODY, _seed  # noqa: E402
from tests.llm_server import LLMServer  # noqa: E402

RUNS = int(os.environ.get("PROFILE_RUNS", "10"))


class _Captured:
    """An executor that keeps the submitted job, to run it in this thread."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, object]] = []

    def submit(self, kind: str, run_id: object) -> None:
        self.jobs.append((kind, run_id))


def _one(
    app_id: str, token: str, body: dict[str, object], captured: _Captured
) -> tuple[float, float]:
    started = time.perf_counter()
    plan = prestream.start_run(
        authorization=f"Bearer {token}", app_ref=app_id, body=json.dumps(body).encode(), ip=""
    )
    prepared = time.perf_counter()
    stream_slot_release(plan.slot)  # no stream follows here
    kind, run_id = captured.jobs.pop()
    jobs.execute(kind, run_id)  # type: ignore[arg-type]
    return (prepared - started) * 1000, (time.perf_counter() - prepared) * 1000


def main() -> None:
    model = LLMServer()
    chunks = int(os.environ.get("BENCH_LLM_CHUNKS", "20"))
    model.answer(
        "", chunks=["word "] * chunks, chunk_delay=float(os.environ.get("BENCH_LLM_DELAY", "0.02"))
    )
    os.environ["OPENAI_BASE_URL"] = model.url
    from django.conf import settings

    settings.OPENAI_BASE_URL = model.url  # type: ignore[misc]
    settings.OPENAI_API_KEY = "sk-bench"  # type: ignore[misc]
    captured = _Captured()
    executor_module.get_executor = lambda: captured  # type: ignore[assignment]
    prestream.get_executor = lambda: captured  # type: ignore[attr-defined]
    data = _seed(1, 0)
    token = data["token"]
    cases = [
        ("echo workflow", data["apps"]["echo_workflow.yml"], ECHO_WORKFLOW_BODY),
        ("echo chat", data["apps"]["echo_chat.yml"], ECHO_CHAT_BODY),
        ("LLM chat", data["apps"]["support_bot.yml"], LLM_BODY),
    ]
    profiler = Profiler(interval=0.0005)
    try:
        for label, app_id, body in cases:
            _one(app_id, token, body, captured)  # warm-up
            if label == "LLM chat":
                profiler.start()
            times = [_one(app_id, token, body, captured) for _ in range(RUNS)]
            if label == "LLM chat":
                profiler.stop()
            pre = sorted(t[0] for t in times)[len(times) // 2]
            job = sorted(t[1] for t in times)[len(times) // 2]
            print(f"{label}: pre-stream {pre:.1f} ms, job {job:.1f} ms (medians of {RUNS})")
    finally:
        model.close()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
