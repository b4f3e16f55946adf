"""One warning per outage and interval, not one per request (security 28).

A store that is down (the cache, the event log's Redis, the database) fails every request that
touches it; logging each would bury the log in identical tracebacks. :func:`warn_outage` logs the
first failure of a ``what`` and then at most one line per ``RATE_LIMIT_OUTAGE_LOG_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

_last: dict[str, float] = {}
_lock = threading.Lock()


def warn_outage(logger: logging.Logger, what: str, exc: BaseException, consequence: str) -> bool:
    """Log ``<what> unavailable, <consequence>: <error>`` unless logged within the interval;
    returns whether it logged."""
    now = time.monotonic()
    with _lock:
        last = _last.get(what)
        if last is not None and now - last < settings.RATE_LIMIT_OUTAGE_LOG_SECONDS:
            return False
        _last[what] = now
    logger.warning("%s unavailable, %s: %s", what, consequence, exc)
    return True


def reset() -> None:
    """Forget what was logged (tests)."""
    with _lock:
        _last.clear()
