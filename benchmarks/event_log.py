"""`python -m benchmarks.event_log`: the run-event log under a burst (decisions §6).

A worker thread appends BENCH_EVENTS events as fast as it can while a coroutine follows the
stream with ``wait``; prints delivered/appended, append rate and append→delivery latency
(p50/p95) for the in-process log, and for Redis Streams when REDIS_URL is set. Compare figures
within one run: the machine is a shared 2-core VM.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TESTING", "1")
os.environ.setdefault("EVENT_LOG_KEY_PREFIX", f"bench-{uuid.uuid4().hex}")
django.setup()

from apps_runtime.events.base import EventLog  # noqa: E402
from apps_runtime.events.memory import MemoryEventLog  # noqa: E402
from apps_runtime.events.redis import RedisEventLog  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))


async def _burst(log: EventLog) -> dict[str, float]:
    stream = f"bench-{uuid.uuid4().hex}"
    sent: dict[int, float] = {}
    latencies: list[float] = []
    append_seconds = 0.0

    def writer() -> None:
        nonlocal append_seconds
        started = time.perf_counter()
        for i in range(EVENTS):
            sent[i] = time.perf_counter()
            log.append(stream, {"event": "message", "i": i, "answer": "token "})
        append_seconds = time.perf_counter() - started

    thread = threading.Thread(target=writer)
    thread.start()
    last = None
    seen = 0
    deadline = time.monotonic() + 120
    while seen < EVENTS and time.monotonic() < deadline:
        got = await log.wait(stream, last, timeout=5)
        now = time.perf_counter()
        for _, event in got:
            latencies.append(now - sent[event["i"]])
        if got:
            seen += len(got)
            last = got[-1][0]
    thread.join()
    if isinstance(log, RedisEventLog):
        log._sync.delete(log.key(stream))
    latencies.sort()
    return {
        "delivered": seen,
        "appends_per_s": EVENTS / append_seconds if append_seconds else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else 0.0,
    }


def main() -> None:
    backends: list[tuple[str, EventLog]] = [("memory", MemoryEventLog())]
    if os.environ.get("REDIS_URL"):
        backends.append(("redis", RedisEventLog(os.environ["REDIS_URL"])))
    for name, log in backends:
        result = asyncio.run(_burst(log))
        print(
            f"{name:>6}: delivered {result['delivered']}/{EVENTS}, "
            f"{result['appends_per_s']:.0f} appends/s, "
            f"append->delivery p50 {result['p50_ms']:.2f} ms p95 {result['p95_ms']:.2f} ms"
        )


if __name__ == "__main__":
    main()
