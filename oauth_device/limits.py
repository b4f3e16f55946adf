"""Abuse limits of the device flow (security.md 5), as atomic counters in the cache.

Every number is a setting. A limit that trips raises :class:`config.api.errors.RateLimited`; JSON
views answer it with the 429 envelope and ``Retry-After``, the page with a friendly 429 page.

Wrong user codes are guessed secrets, so their limits count increment-first (a parallel burst
cannot slip past a check made before any of its requests was counted) and fail closed while the
cache is down (:class:`config.api.ratelimit.LimiterUnavailable`, a 503). Anonymous lookups are
counted per IP; a signed-in account's code entries and decisions are counted per account only, so
an anonymous client sharing the IP cannot use up an account's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from accounts.models import Account
from config.api import ratelimit
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


def _wrong_code_window(account: Account | None, ip: str) -> tuple[str, str, int, int]:
    if account is None:
        return ("device-wrong-anon-ip", ip, settings.DEVICE_WRONG_CODES_PER_IP_PER_HOUR, HOUR)
    return (
        "device-wrong-account",
        str(account.pk),
        settings.DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN,
        FIFTEEN_MINUTES,
    )


def code_attempt(account: Account | None, ip: str, attempt: Callable[[], T]) -> T:
    """Run ``attempt`` under the wrong-code limit of this account (or, anonymous, of this IP).

    The attempt is counted before it runs and refused once the count passes the limit; an
    attempt that finds its code (or fails for another reason than an unknown code) gives its
    count back, so only wrong codes use up the budget.
    """
    scope, key, limit, window = _wrong_code_window(account, ip)
    ratelimit.enforce(
        scope, key, limit=limit, window=window, hint="too many wrong codes", fail_open=False
    )
    try:
        result = attempt()
    except GrantUnknown:
        raise
    except BaseException:
        ratelimit.refund(scope, key, window=window)
        raise
    ratelimit.refund(scope, key, window=window)
    return result
