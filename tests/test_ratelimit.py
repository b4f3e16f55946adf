"""The fixed-window counters of ``config.api.ratelimit`` on whichever cache is configured: counts,
the wait it answers past the limit, refunds, windows that expire, and many threads at once."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from config.api import ratelimit
from tests.concurrency import race


@pytest.fixture
def clock(monkeypatch):
    now = [1_800_000_000.0]  # the start of a 60-second window
    monkeypatch.setattr(ratelimit, "_now", lambda: now[0])
    return now


def test_counts_until_the_limit_then_answers_the_wait(db, clock):
    clock[0] += 15
    counts = [ratelimit.hit_count("t-count", "k", limit=3, window=60) for _ in range(5)]
    assert counts == [(1, None), (2, None), (3, None), (4, 45), (5, 45)]
    assert ratelimit.peek("t-count", "k", window=60) == 5
    # Other keys and scopes count apart.
    assert ratelimit.hit_count("t-count", "other", limit=3, window=60) == (1, None)
    assert ratelimit.hit_count("t-other", "k", limit=3, window=60) == (1, None)


def test_refund_gives_one_back_and_a_new_window_starts_at_one(db, clock):
    for _ in range(3):
        ratelimit.hit("t-refund", "k", limit=3, window=60)
    ratelimit.refund("t-refund", "k", window=60)
    assert ratelimit.hit_count("t-refund", "k", limit=3, window=60) == (3, None)
    clock[0] += 60
    assert ratelimit.peek("t-refund", "k", window=60) == 0
    assert ratelimit.hit_count("t-refund", "k", limit=3, window=60) == (1, None)


def test_a_zero_limit_counts_nothing(db, clock):
    assert ratelimit.hit_count("t-off", "k", limit=0, window=60) == (0, None)
    assert ratelimit.peek("t-off", "k", window=60) == 0


def test_parallel_events_are_each_counted_once(db, clock):
    seen: list[int] = []

    def burst(index: int) -> None:
        for _ in range(10):
            seen.append(ratelimit.hit_count("t-race", "k", limit=1000, window=60)[0])

    assert not race(8, burst)
    assert sorted(seen) == list(range(1, 81))


@pytest.mark.shared_services
def test_on_redis_the_counter_expires_after_its_window(db, clock):
    ratelimit.hit("t-ttl", "k", limit=5, window=30)
    ratelimit.hit("t-ttl", "k", limit=5, window=30)
    bucket = int(clock[0] // 30)
    key = ratelimit._cache_key("t-ttl", "k", 30, bucket)
    ttl = caches["default"].ttl(key)
    assert 0 < ttl <= 31
