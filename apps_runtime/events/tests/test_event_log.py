"""The event log's behaviour: one suite run against both backends (Redis: shared_services)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from django.conf import settings as django_settings
from django.utils import timezone

from apps_runtime import events
from apps_runtime.events import entry_id_key, event_log
from apps_runtime.events.memory import MemoryEventLog
from apps_runtime.events.redis import RedisEventLog
from config import housekeeping

ID = re.compile(r"^\d+-\d+$")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.shared_services)],
)
def log(request, settings):
    if request.param == "memory":
        return MemoryEventLog()
    log = event_log()  # the autouse fixture drops this test's keys afterwards
    assert isinstance(log, RedisEventLog)
    return log


def later(seconds, fn, *args):
    timer = threading.Timer(seconds, fn, args)
    timer.start()
    return timer


def test_append_and_entries_in_order(log):
    ids = [log.append("run-1", {"event": "n", "i": i, "data": {"x": [1, None]}}) for i in range(50)]
    assert all(ID.match(i) for i in ids)
    keys = [entry_id_key(i) for i in ids]
    assert keys == sorted(keys) and len(set(keys)) == 50  # strictly increasing
    got = log.entries("run-1")
    assert [i for i, _ in got] == ids
    assert [e["i"] for _, e in got] == list(range(50))
    assert got[0][1] == {"event": "n", "i": 0, "data": {"x": [1, None]}}
    assert log.entries("another-run") == []


def test_entries_after_an_id(log):
    ids = [log.append("s", {"i": i}) for i in range(5)]
    assert [e["i"] for _, e in log.entries("s", after=ids[1])] == [2, 3, 4]
    assert log.entries("s", after=ids[-1]) == []
    assert [e["i"] for _, e in log.entries("s", after="garbage")] == [0, 1, 2, 3, 4]
    assert [e["i"] for _, e in log.entries("s", after="0-0")] == [0, 1, 2, 3, 4]


def test_wait_returns_what_is_there_at_once(log):
    first = log.append("s", {"i": 0})
    log.append("s", {"i": 1})
    started = time.monotonic()
    got = asyncio.run(log.wait("s", first, timeout=10))
    assert [e["i"] for _, e in got] == [1]
    assert time.monotonic() - started < 5


def test_wait_wakes_on_an_append_from_another_thread(log):
    first = log.append("s", {"i": 0})

    async def main():
        later(0.2, log.append, "s", {"i": 1})
        return await log.wait("s", first, timeout=20)

    started = time.monotonic()
    got = asyncio.run(main())
    assert [e["i"] for _, e in got] == [1]
    assert time.monotonic() - started < 10  # woken, not timed out


def test_wait_on_a_new_stream_wakes_on_its_first_event(log):
    async def main():
        later(0.2, log.append, "fresh", {"i": 0})
        return await log.wait("fresh", None, timeout=20)

    assert [e["i"] for _, e in asyncio.run(main())] == [0]


def test_wait_times_out_empty_without_blocking_the_loop(log):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        got = await log.wait("silent", None, timeout=0.5)
        elapsed = time.monotonic() - started
        task.cancel()
        return got, elapsed, ticks

    got, elapsed, ticks = asyncio.run(main())
    assert got == []
    assert elapsed >= 0.4
    assert ticks >= 10  # the loop kept running while the reader waited


def test_zero_timeout_does_not_block(log):
    assert asyncio.run(log.wait("silent", None, timeout=0)) == []


def test_a_cancelled_wait_leaves_the_log_usable(log):
    async def main():
        task = asyncio.create_task(log.wait("s", None, timeout=20))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        later(0.1, log.append, "s", {"i": 7})
        return await log.wait("s", None, timeout=20)

    assert [e["i"] for _, e in asyncio.run(main())] == [7]


def test_close_keeps_the_stream_for_the_retention_period(log, settings):
    settings.EVENT_LOG_RETENTION_SECONDS = 1
    log.append("done", {"i": 0})
    log.append("alive", {"i": 0})
    log.close("done")
    log.close("alive")
    log.append("alive", {"i": 1})  # appended after close: running again, no countdown
    assert log.exists("done")
    assert len(log.entries("done")) == 1
    time.sleep(1.3)
    assert not log.exists("done")
    assert log.entries("done") == []
    assert log.exists("alive") and len(log.entries("alive")) == 2
    assert not log.exists("never-written")


def test_the_length_cap_drops_the_oldest(log, settings):
    settings.EVENT_LOG_MAX_ENTRIES = 100
    for i in range(1000):
        log.append("long", {"i": i})
    got = log.entries("long")
    assert 100 <= len(got) < 1000
    assert got[-1][1] == {"i": 999}
    assert [e["i"] for _, e in got] == list(range(1000 - len(got), 1000))


def test_a_burst_of_2000_events_is_delivered_completely(log):
    total = 2000

    def writer():
        for i in range(total):
            log.append("burst", {"i": i})

    async def reader():
        seen: list[tuple[str, dict]] = []
        last = None
        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 60
        while len(seen) < total and time.monotonic() < deadline:
            got = await log.wait("burst", last, timeout=5)
            if got:
                seen.extend(got)
                last = got[-1][0]
        thread.join()
        return seen

    seen = asyncio.run(reader())
    assert [e["i"] for _, e in seen] == list(range(total))
    assert len({i for i, _ in seen}) == total


def test_memory_retention_reads_django_time(monkeypatch, settings):
    log = MemoryEventLog()
    settings.EVENT_LOG_RETENTION_SECONDS = 3600
    log.append("r", {"i": 0})
    log.close("r")
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(seconds=3599))
    assert log.exists("r")
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(seconds=3601))
    assert not log.exists("r")


def test_housekeeping_purges_expired_in_process_streams(monkeypatch, settings):
    settings.REDIS_URL = ""
    log = event_log()
    assert isinstance(log, MemoryEventLog)
    log.append("old", {"i": 0})
    log.append("running", {"i": 0})
    log.close("old")
    now = timezone.now()
    monkeypatch.setattr(
        timezone, "now", lambda: now + timedelta(seconds=settings.EVENT_LOG_RETENTION_SECONDS)
    )
    results = housekeeping.run_once()
    assert results["expired run event streams purged"] == 1
    assert not log.exists("old") and log.exists("running")


def test_event_log_follows_redis_url(settings):
    settings.REDIS_URL = ""
    first = event_log()
    assert isinstance(first, MemoryEventLog) and event_log() is first
    events.event_log_reset()
    assert event_log() is not first
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"  # never contacted: clients connect lazily
    assert isinstance(event_log(), RedisEventLog)
    events.event_log_reset()  # nothing to clean up on that unused server


@pytest.mark.shared_services
def test_redis_stream_keys_carry_the_prefix(settings):
    log = event_log()
    assert isinstance(log, RedisEventLog)
    log.append("k", {"i": 1})
    client = redis_lib.Redis.from_url(django_settings.REDIS_URL)
    assert client.exists(f"{settings.EVENT_LOG_KEY_PREFIX}:k") == 1
    log.close("k")
    assert (
        0 < client.ttl(f"{settings.EVENT_LOG_KEY_PREFIX}:k") <= settings.EVENT_LOG_RETENTION_SECONDS
    )


@pytest.mark.shared_services
def test_events_appended_by_another_process_are_delivered(settings):
    log = event_log()
    script = (
        "import django, sys;"
        "django.setup();"
        "from apps_runtime.events import event_log;"
        "log = event_log();"
        "[log.append('xproc', {'i': i}) for i in range(200)]"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EVENT_LOG_KEY_PREFIX": settings.EVENT_LOG_KEY_PREFIX,
        "TESTING": "1",
    }

    async def main():
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env)
        seen: list = []
        last = None
        deadline = time.monotonic() + 60
        while len(seen) < 200 and time.monotonic() < deadline:
            got = await log.wait("xproc", last, timeout=5)
            if got:
                seen.extend(got)
                last = got[-1][0]
        return proc.wait(timeout=60), seen

    code, seen = asyncio.run(main())
    assert code == 0
    assert [e["i"] for _, e in seen] == list(range(200))
