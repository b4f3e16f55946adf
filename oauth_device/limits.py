"""Abuse limits of the device flow (security.md 5), as atomic counters in the cache.

Every number is a setting. A limit that trips raises :class:`config.api.errors.RateLimited`; JSON
views answer it with the 429 envelope and ``Retry-After``, the page with a friendly 429 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from accounts.models import Account
from config.api import ratelimit
from config.api.errors import RateLimited
from oauth_device.errors import GrantUnknown

T = TypeVar("T")

HOUR = 3600
FIVE_MINUTES = 300
FIFTEEN_MINUTES = 900


def code_creation_hit(ip: str) -> None:
    ratelimit.enforce("device-code-ip", ip, limit=settings.DEVICE_CODE_PER_IP_PER_HOUR, window=HOUR)


def lookup_hit(ip: str) -> None:
    ratelimit.enforce(
        "device-lookup-ip", ip, limit=settings.DEVICE_LOOKUP_PER_IP_PER_5_MIN, window=FIVE_MINUTES
    )


def decision_hit(account: Account) -> None:
    ratelimit.enforce(
        "device-decision-account",
        str(account.pk),
        limit=settings.DEVICE_DECISIONS_PER_ACCOUNT_PER_HOUR,
        window=HOUR,
    )


def _wrong_code_windows(account: Account | None, ip: str) -> list[tuple[str, str, int, int]]:
    windows = [("device-wrong-ip", ip, settings.DEVICE_WRONG_CODES_PER_IP_PER_HOUR, HOUR)]
    if account is not None:
        windows.append(
            (
                "device-wrong-account",
                str(account.pk),
                settings.DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN,
                FIFTEEN_MINUTES,
            )
        )
    return windows


def wrong_code_guard(account: Account | None, ip: str) -> None:
    """Refuse any code while this account or IP has used up its wrong-code allowance."""
    waits = [
        ratelimit.retry_after(scope, key, limit=limit, window=window)
        for scope, key, limit, window in _wrong_code_windows(account, ip)
    ]
    worst = max((wait for wait in waits if wait is not None), default=None)
    if worst is not None:
        raise RateLimited(worst, hint="too many wrong codes")


def wrong_code_record(account: Account | None, ip: str) -> None:
    for scope, key, limit, window in _wrong_code_windows(account, ip):
        ratelimit.hit(scope, key, limit=limit, window=window)


def code_attempt(account: Account | None, ip: str, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` under the wrong-code limits: refused while locked out, counted if unknown."""
    wrong_code_guard(account, ip)
    try:
        return attempt()
    except GrantUnknown:
        wrong_code_record(account, ip)
        raise
