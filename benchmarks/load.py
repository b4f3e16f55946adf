"""`python -m benchmarks.load`: a bounded load test of runs (issue 21; not in CI, a smoke of it is).

LOAD_RUNS (200) runs of the echo demo apps, all started at once, split across two daphne
processes sharing PostgreSQL and Redis, first on the in-process thread executor, then with
RUN_EXECUTOR=celery on two Celery workers (LOAD_EXECUTORS=thread,celery). Each run's live stream
is read to its end, then re-attached from the start through the *other* process. A run passes when
it ends with its app's terminal event, ``succeeded``, its event ids strictly increase, and the live
stream holds exactly the events of the log (same ids, same order, none twice, none missing).
Prints the counts and the p50/p99 run time; exits 1 on any failure.

Like ``make bench`` it uses production settings, a database of its own (BENCH_DB_NAME, default
``bench_load``, dropped and recreated) and a private ``redis-server`` (event log, cache, broker).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any

import httpx

from benchmarks.runs import ECHO_CHAT_BODY, ECHO_WORKFLOW_BODY, parse_sse, pct

TERMINAL = {"workflow": "workflow_finished", "advanced-chat": "message_end"}


def _id_key(entry_id: str | None) -> tuple[int, int]:
    ms, _, seq = (entry_id or "").partition("-")
    return (int(ms), int(seq)) if ms.isdigit() and seq.isdigit() else (-1, -1)


async def _stream(
    client: httpx.AsyncClient, method: str, url: str, token: str, body: Any = None
) -> tuple[int, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    buffer = ""
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream(method, url, json=body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, [{"event": "http", "body": response.text[:300]}]
        async for chunk in response.aiter_text():
            new, buffer = parse_sse(buffer + chunk)
            events += new
    return 200, events


def check_run(mode: str, live: list[dict[str, Any]], replay: list[dict[str, Any]]) -> str | None:
    """What is wrong with one run's streams (``None``: nothing)."""
    if not live or live[-1].get("event") != TERMINAL[mode]:
        return f"live stream ended with {live[-1].get('event') if live else None}"
    finished = [e for e in live if e.get("event") == "workflow_finished"]
    if not finished or (finished[-1].get("data") or {}).get("status") != "succeeded":
        return "the run did not succeed"
    ids = [_id_key(e["_id"]) for e in live]
    if ids != sorted(set(ids)) or (-1, -1) in ids:
        return "live event ids are not strictly increasing"
    if [e["_id"] for e in live] != [e["_id"] for e in replay]:
        return f"live stream ({len(live)} events) differs from the log ({len(replay)})"
    return None


async def load(
    bases: list[str], tokens: list[str], apps: dict[str, tuple[str, str]], runs: int
) -> dict[str, Any]:
    """``runs`` runs at once, run ``i`` on ``bases[i % 2]`` as ``tokens[i % len(tokens)]`` of
    the apps ``{name: (app_id, mode)}`` in turn; re-attached through the other base."""
    names = sorted(apps)
    limits = httpx.Limits(max_connections=runs * 2, max_keepalive_connections=runs * 2)

    async def one(i: int, client: httpx.AsyncClient) -> dict[str, Any]:
        app_id, mode = apps[names[i % len(names)]]
        body = ECHO_WORKFLOW_BODY if mode == "workflow" else ECHO_CHAT_BODY
        token = tokens[i % len(tokens)]
        here, there = bases[i % 2], bases[(i + 1) % 2]
        started = time.perf_counter()
        status, live = await _stream(
            client, "POST", f"{here}/openapi/v1/apps/{app_id}/run", token, body
        )
        seconds = time.perf_counter() - started
        if status != 200:
            return {"error": f"run answered {status}: {live[0]['body']}", "seconds": seconds}
        task = next((e.get("task_id") for e in live if e.get("task_id")), None)
        if task is None:
            return {"error": "no task_id in the stream", "seconds": seconds}
        status, replay = await _stream(
            client, "GET", f"{there}/openapi/v1/apps/{app_id}/tasks/{task}/events", token
        )
        if status != 200:
            return {"error": f"re-attach answered {status}", "seconds": seconds}
        return {"error": check_run(mode, live, replay), "seconds": seconds, "events": len(live)}

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(one(i, client) for i in range(runs)))
        wall = time.perf_counter() - started
    errors = [r["error"] for r in results if r["error"]]
    seconds = [r["seconds"] * 1000 for r in results]
    return {
        "runs": runs,
        "finished": runs - len(errors),
        "failed": len(errors),
        "errors": sorted(set(errors))[:10],
        "events": sum(r.get("events", 0) for r in results),
        "lost_or_repeated": sum(1 for e in errors if "differs" in e or "increasing" in e),
        "run_p50_ms": round(statistics.median(seconds), 1),
        "run_p99_ms": round(pct(seconds, 0.99), 1),
        "wall_seconds": round(wall, 2),
    }


def report(label: str, result: dict[str, Any]) -> None:
    print(
        f"{label}: {result['finished']}/{result['runs']} runs finished, {result['failed']} failed,"
        f" {result['events']} events, {result['lost_or_repeated']} streams lost or repeated an"
        f" event; run time p50 {result['run_p50_ms']:.0f} ms, p99 {result['run_p99_ms']:.0f} ms;"
        f" all in {result['wall_seconds']:.1f} s (load {os.getloadavg()[0]:.1f})"
    )
    for error in result["errors"]:
        print(f"  error: {error}")


def main() -> None:
    os.environ.setdefault("BENCH_DB_NAME", "bench_load")
    from benchmarks import run as bench
    from tests.servers import Worker

    runs = int(os.environ.get("LOAD_RUNS", "200"))
    executors = os.environ.get("LOAD_EXECUTORS", "thread,celery").split(",")
    bench.raise_open_files()
    bench.ensure_services()
    database_url = bench.bench_database_url()
    bench.recreate_database(database_url)
    failed = False
    redis_process, redis_url = bench.private_redis()
    try:
        env = {**bench.production_env(database_url), "REDIS_URL": redis_url}
        subprocess.run(
            [bench.PY, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=bench.ROOT,
            env=env,
            check=True,
        )
        seeded = subprocess.run(
            [bench.PY, "-m", "benchmarks.runs", "seed", str(runs // 5 + 1)],
            cwd=bench.ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(seeded.stdout.strip().splitlines()[-1])
        tokens = data["stream_tokens"]
        apps = {
            "echo workflow": (data["apps"]["echo_workflow.yml"], "workflow"),
            "echo chat": (data["apps"]["echo_chat.yml"], "advanced-chat"),
        }
        print(f"{runs} concurrent runs of the echo apps, 2 daphne processes, Redis event log")
        for executor in executors:
            server_env = {**env, "RUN_EXECUTOR": executor, "RUN_QUEUE": str(runs * 2)}
            with ExitStack() as stack:
                if executor == "celery":
                    workers = [Worker(f"load{i}", server_env) for i in range(2)]
                    for worker in workers:
                        stack.callback(worker.stop)
                    for worker in workers:
                        worker.wait_ready()
                servers = [
                    stack.enter_context(bench.Server("daphne (1 process)", "django", server_env))
                    for _ in range(2)
                ]
                result = asyncio.run(load([s.base for s in servers], tokens, apps, runs))
            label = "thread executor" if executor == "thread" else "celery, 2 workers"
            report(label, result)
            failed = failed or bool(result["failed"])
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
