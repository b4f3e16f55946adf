"""Atomic fixed-window counters in the cache (Redis when configured).

Every limiter is named by a scope (``token``, ``device-code-ip`` …) and a key; the cache key carries
``settings.RATE_LIMIT_KEY_PREFIX`` so tests isolate their counters without flushing a shared Redis.
Callers use :func:`enforce` (raises :class:`~config.api.errors.RateLimited`); :func:`hit` only
counts. A limit keyed by caller takes ``Subject.key`` (``accounts.authentication``). Keys are
compared in the one spelling of :func:`config.identity.identity_key` (NFKC, case folding), so a
look-alike spelling of an email never gets a budget of its own.

Counting is increment-first: the event is counted atomically in the shared cache and the decision
is taken on the count that increment returned, so parallel requests in any number of processes can
never all pass a check made before any of them was counted. A caller that only wants to count
failures reserves first and gives the reservation back (:func:`refund`) when the attempt succeeds.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.utils import timezone

from config.api.errors import RateLimited, ServiceUnavailable
from config.identity import identity_key
from config.outage import warn_outage

logger = logging.getLogger("difyapi.ratelimit")


class LimiterUnavailable(ServiceUnavailable):
    """A limiter that guards a secret cannot count: refuse (503 + ``Retry-After``), never guess."""

    def __init__(self, scope: str) -> None:
        super().__init__(
            "rate limiter unavailable, try again later",
            retry_after=settings.RATE_LIMIT_OUTAGE_RETRY_AFTER_SECONDS,
        )
        self.scope = scope


def log_outage(scope: str, exc: BaseException, *, fail_open: bool) -> None:
    """One warning per scope per ``RATE_LIMIT_OUTAGE_LOG_SECONDS``, not one per request."""
    outcome = "allowing requests" if fail_open else "refusing requests with 503"
    warn_outage(logger, f"rate limiter {scope}", exc, outcome)


def _cache_key(scope: str, key: str, window: int, bucket: int) -> str:
    # Every key in one spelling: an email keyed limit must not restart for a look-alike spelling
    # the login form would accept (ids, digests and addresses are unchanged by it).
    digest = hashlib.sha256(identity_key(key).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:{scope}:{window}:{bucket}:{digest}"


def _wait(bucket: int, window: int, now: float) -> int:
    return max(1, int((bucket + 1) * window - now + 0.999))


def _now() -> float:
    # The one injectable clock (decisions §11); Redis TTLs only clean up.
    return timezone.now().timestamp()


def hit(scope: str, key: str, *, limit: int, window: int, fail_open: bool = True) -> int | None:
    """Count one event; return the seconds to wait when the limit is exceeded, else ``None``.

    ``limit`` 0 disables the limiter. When the cache is unreachable a throughput limiter lets the
    request through (``fail_open``); a limiter guarding a secret raises
    :class:`LimiterUnavailable`. Either way the outage is logged once per interval.
    """
    return hit_count(scope, key, limit=limit, window=window, fail_open=fail_open)[1]


def hit_count(
    scope: str, key: str, *, limit: int, window: int, fail_open: bool = True
) -> tuple[int, int | None]:
    """:func:`hit`, also returning the count in this window after this event (0: not counted)."""
    if limit <= 0:
        return 0, None
    now = _now()
    bucket = int(now // window)
    cache_key = _cache_key(scope, key, window, bucket)
    try:
        count = _count(cache_key, window)
    except Exception as exc:  # the cache backend's connection errors have no common base
        log_outage(scope, exc, fail_open=fail_open)
        if fail_open:
            return 0, None
        raise LimiterUnavailable(scope) from exc
    if count > limit:
        return count, _wait(bucket, window, now)
    return count, None


def enforce(
    scope: str,
    key: str,
    *,
    limit: int,
    window: int,
    hint: str | None = None,
    fail_open: bool = True,
) -> None:
    """Count one event and raise the 429 (:class:`RateLimited`) when ``limit`` is exceeded."""
    wait = hit(scope, key, limit=limit, window=window, fail_open=fail_open)
    if wait is not None:
        raise RateLimited(wait, hint=hint)


def refund(scope: str, key: str, *, window: int) -> None:
    """Give back one event counted by :func:`hit` in the current window (the attempt succeeded)."""
    bucket = int(_now() // window)
    try:
        cache.decr(_cache_key(scope, key, window, bucket))
    except Exception as exc:
        logger.debug("rate limiter %s refund skipped: %s", scope, exc)


def peek(scope: str, key: str, *, window: int) -> int:
    """The current count for ``key`` without counting an event."""
    bucket = int(_now() // window)
    try:
        value = cache.get(_cache_key(scope, key, window, bucket))
    except Exception as exc:  # unreachable cache: count nothing, as hit() fails open
        log_outage(scope, exc, fail_open=True)
        return 0
    return int(value or 0)


# One atomic command per event on Redis: increment, and start the expiry with the window's first
# event. (The cache API needs two round trips, add() then incr(), which doubled the cost of a
# bearer GET /account with the default limits on.)
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_script: Any = None
_script_lock = threading.Lock()


def _count(cache_key: str, window: int) -> int:
    """Count one event under ``cache_key``; the count in this window after it."""
    backend = caches["default"]
    if not hasattr(backend, "client") or not hasattr(backend.client, "get_client"):
        # The local-memory cache (embedded default): add, else increment.
        added = cache.add(cache_key, 1, timeout=window + 1)
        return 1 if added else _incr(cache_key, window)
    global _script
    client = backend.client.get_client(write=True)
    if _script is None:
        with _script_lock:
            _script = _script or client.register_script(_COUNT_SCRIPT)
    # The same key the cache API reads and writes (peek, refund): prefix and version included.
    return int(_script(keys=[backend.make_key(cache_key)], args=[window + 1], client=client))


def _incr(cache_key: str, window: int) -> int:
    try:
        return int(cache.incr(cache_key))
    except ValueError:  # expired between add() and incr()
        if cache.add(cache_key, 1, timeout=window + 1):
            return 1
        return int(cache.incr(cache_key))
