"""Open SSE streams per token (``SSE_MAX_STREAMS_PER_TOKEN``, security 19), held as leases in the
cache so the cap holds across processes.

A token has ``SSE_MAX_STREAMS_PER_TOKEN`` slot keys; taking a slot is ``cache.add`` on the first
free one (atomic in every backend) with a lease of ``SSE_SLOT_LEASE_SECONDS``. The stream renews
its lease while it runs (:func:`stream_slot_renew`, every third of the lease) and deletes it when it
ends; a slot whose holder vanished without a word (a killed process, a stalled loop) frees itself
when the lease runs out. A refused request writes nothing, so retrying never extends a lockout.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from config.api.errors import RateLimited
from config.leases import Lease, lease_release, lease_renew, lease_take

TOO_MANY_STREAMS = "too many open streams for this token"


# One held slot of a token (config.leases: only its holder gives it back).
StreamSlot = Lease


def _keys(token_key: str) -> list[str]:
    prefix = f"{settings.RATE_LIMIT_KEY_PREFIX}:sse-slot:{token_key}"
    return [f"{prefix}:{index}" for index in range(settings.SSE_MAX_STREAMS_PER_TOKEN)]


def _lease() -> int:
    return max(1, int(settings.SSE_SLOT_LEASE_SECONDS))


def stream_slot_acquire(token_key: str) -> StreamSlot | None:
    """Take a stream slot for a token or raise 429 (the cache down: allow, logged; ``None``)."""
    try:
        slot = lease_take(_keys(token_key), _lease())
    except Exception as exc:  # cache backends' connection errors share no base class
        from config.api.ratelimit import log_outage

        log_outage("sse-streams", exc, fail_open=True)
        return None
    if slot is None:
        raise RateLimited(
            max(1, _lease() // 3),
            hint=f"{TOO_MANY_STREAMS} (at most {settings.SSE_MAX_STREAMS_PER_TOKEN})",
        )
    return slot


def stream_slot_renew(slot: StreamSlot | None) -> None:
    """Extend the lease of a live stream's slot (take it again if it lapsed and is free)."""
    lease_renew(slot, _lease())


def stream_slot_release(slot: StreamSlot | None) -> None:
    """Give the slot back (only if this holder still has it). Never raises."""
    lease_release(slot)


def streams_open(token_key: str) -> int:
    """How many slots of the token are held now."""
    try:
        return len(cache.get_many(_keys(token_key)))
    except Exception:
        return 0
