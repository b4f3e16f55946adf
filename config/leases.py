"""Slots held as leases in the shared cache, so a cap on things in progress holds across
processes: taking one is ``cache.add`` on the first free key of a fixed set (atomic in every
backend) with a lease; the holder gives it back when done, and a slot whose holder vanished
without a word (a killed process) frees itself when its lease runs out. Used by the open SSE
streams of a token (``apps_runtime.runs.streams``) and the ``yaml-url`` fetches in progress
(``apps_runtime.transfer.imports``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger("difyapi.leases")


@dataclass(frozen=True)
class Lease:
    """One held slot: its cache key and this holder's mark (so only the holder gives it back)."""

    key: str
    owner: str


def lease_take(keys: Iterable[str], seconds: int) -> Lease | None:
    """The first free slot of ``keys``, held for ``seconds``; ``None`` when all are held. The
    cache's own errors propagate (the caller decides whether an outage allows or refuses)."""
    owner = uuid.uuid4().hex
    for key in keys:
        if cache.add(key, owner, timeout=seconds):
            return Lease(key, owner)
    return None


def lease_renew(lease: Lease | None, seconds: int) -> None:
    """Extend a live holder's lease (take the slot again if it lapsed and is free)."""
    if lease is None:
        return
    try:
        holder = cache.get(lease.key)
        if holder == lease.owner:
            cache.touch(lease.key, seconds)
        elif holder is None:
            cache.add(lease.key, lease.owner, timeout=seconds)
    except Exception as exc:  # cache backends' connection errors share no base class
        logger.debug("lease renewal skipped: %s", exc)


def lease_release(lease: Lease | None) -> None:
    """Give the slot back (only if this holder still has it). Never raises."""
    if lease is None:
        return
    try:
        if cache.get(lease.key) == lease.owner:
            cache.delete(lease.key)
    except Exception as exc:
        logger.warning("releasing a held slot failed (its lease frees it): %s", exc)
