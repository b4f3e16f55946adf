"""Open SSE streams per token (``SSE_MAX_STREAMS_PER_TOKEN``, security 19), counted in the cache
so the cap holds across processes. A slot is taken before a stream starts and given back when it
ends; a process that dies leaks its slots only until the counter's expiry (``SSE_MAX_SECONDS``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from config.api.errors import RateLimited

logger = logging.getLogger("difyapi.runs")

TOO_MANY_STREAMS = "too many open streams for this token"


def _key(token_key: str) -> str:
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:sse-streams:{token_key}"


def stream_slot_acquire(token_key: str) -> None:
    """Take a stream slot for a token or raise 429 (the cache down: allow, logged)."""
    key = _key(token_key)
    ttl = settings.SSE_MAX_SECONDS + 60
    try:
        if cache.add(key, 1, timeout=ttl):
            count = 1
        else:
            try:
                count = int(cache.incr(key))
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=ttl)
                count = 1
            cache.touch(key, ttl)
    except Exception as exc:  # cache backends' connection errors share no base class
        logger.warning("stream counter unavailable, allowing the stream: %s", exc)
        return
    if count > settings.SSE_MAX_STREAMS_PER_TOKEN:
        stream_slot_release(token_key)
        raise RateLimited(
            5,
            hint=f"{TOO_MANY_STREAMS} (at most {settings.SSE_MAX_STREAMS_PER_TOKEN})",
        )


def stream_slot_release(token_key: str) -> None:
    try:
        if int(cache.decr(_key(token_key))) < 0:
            cache.delete(_key(token_key))
    except ValueError:
        pass  # the counter expired already
    except Exception as exc:
        logger.warning("stream counter unavailable on release: %s", exc)


def streams_open(token_key: str) -> int:
    try:
        return int(cache.get(_key(token_key)) or 0)
    except Exception:
        return 0
