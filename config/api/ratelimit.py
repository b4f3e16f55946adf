"""Atomic fixed-window counters in the cache (Redis when configured).

Every limiter is named by a scope (``token``, ``device-code-ip`` …) and a key; the cache key carries
``settings.RATE_LIMIT_KEY_PREFIX`` so tests isolate their counters without flushing a shared Redis.
Callers use :func:`enforce` (raises :class:`~config.api.errors.RateLimited`); :func:`hit` only
counts. A limit keyed by caller takes ``Subject.key`` (``accounts.authentication``).
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache

from config.api.errors import ApiError, RateLimited

logger = logging.getLogger("difyapi.ratelimit")


def _cache_key(scope: str, key: str, window: int, bucket: int) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:{scope}:{window}:{bucket}:{digest}"


def hit(scope: str, key: str, *, limit: int, window: int, fail_open: bool = True) -> int | None:
    """Count one event; return the seconds to wait when the limit is exceeded, else ``None``.

    ``limit`` 0 disables the limiter. When the cache is unreachable the limiter lets the request
    through (``fail_open``, logged) or answers 503, so no request hangs or fails with a 500.
    """
    if limit <= 0:
        return None
    now = time.time()
    bucket = int(now // window)
    cache_key = _cache_key(scope, key, window, bucket)
    try:
        added = cache.add(cache_key, 1, timeout=window + 1)
        count = 1 if added else _incr(cache_key, window)
    except Exception as exc:  # the cache backend's connection errors have no common base
        if fail_open:
            logger.warning("rate limiter %s unavailable, allowing request: %s", scope, exc)
            return None
        raise ApiError(503, "rate limiter unavailable, try again later") from exc
    if count > limit:
        return max(1, int((bucket + 1) * window - now + 0.999))
    return None


def enforce(scope: str, key: str, *, limit: int, window: int, hint: str | None = None) -> None:
    """Count one event and raise the 429 (:class:`RateLimited`) when ``limit`` is exceeded."""
    wait = hit(scope, key, limit=limit, window=window)
    if wait is not None:
        raise RateLimited(wait, hint=hint)


def peek(scope: str, key: str, *, window: int) -> int:
    """The current count for ``key`` without counting an event."""
    bucket = int(time.time() // window)
    try:
        value = cache.get(_cache_key(scope, key, window, bucket))
    except Exception as exc:  # unreachable cache: count nothing, as hit() fails open
        logger.warning("rate limiter %s unavailable: %s", scope, exc)
        return 0
    return int(value or 0)


def retry_after(scope: str, key: str, *, limit: int, window: int) -> int | None:
    """Seconds to wait if ``key`` is already over ``limit`` (without counting), else ``None``."""
    if limit <= 0:
        return None
    now = time.time()
    if peek(scope, key, window=window) >= limit:
        bucket = int(now // window)
        return max(1, int((bucket + 1) * window - now + 0.999))
    return None


def _incr(cache_key: str, window: int) -> int:
    try:
        return int(cache.incr(cache_key))
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=window + 1)
        return 1
