"""Reads of device grants."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from oauth_device.codes import normalize_user_code
from oauth_device.errors import GrantAlreadyResolved, GrantUnknown
from oauth_device.models import DeviceGrant


@dataclass(frozen=True)
class Lookup:
    valid: bool
    expires_in_remaining: int
    client_id: str | None


def seconds_left(grant: DeviceGrant, now: datetime) -> int:
    return max(0, math.ceil((grant.expires_at - now).total_seconds()))


def grant_by_user_code(code: str, *, lock: bool = False) -> DeviceGrant | None:
    """The newest grant with this (normalised) code; open grants have unique codes."""
    queryset: QuerySet[DeviceGrant] = DeviceGrant.objects.filter(user_code=code)
    if lock:
        queryset = queryset.select_for_update()
    return queryset.order_by("-created_at").first()


def device_grant_lookup(user_code: str) -> Lookup:
    """What ``/oauth/device/lookup`` reports. Raises :class:`GrantUnknown` for an unknown code
    (the view still answers 200 with ``valid: false``; the exception lets the wrong-code limit
    count it)."""
    code = normalize_user_code(user_code)
    grant = grant_by_user_code(code) if code else None
    now = timezone.now()
    if grant is None or grant.is_expired(now):
        raise GrantUnknown()
    if grant.status != DeviceGrant.Status.PENDING:
        return Lookup(valid=False, expires_in_remaining=0, client_id=grant.client_id)
    return Lookup(
        valid=True, expires_in_remaining=seconds_left(grant, now), client_id=grant.client_id
    )


def device_grant_for_account(
    user_code: str, account: Account, *, lock: bool = False
) -> DeviceGrant:
    """The grant this signed-in account may decide on.

    Unknown, malformed, expired, consumed, or claimed by another account → :class:`GrantUnknown`
    (one answer, so nothing about other people's logins leaks). The caller's own grant that is
    already approved or denied → :class:`GrantAlreadyResolved`.
    """
    code = normalize_user_code(user_code)
    grant = grant_by_user_code(code, lock=lock) if code else None
    if grant is None or grant.is_expired():
        raise GrantUnknown()
    if grant.account_id is not None and grant.account_id != account.pk:
        raise GrantUnknown()
    if grant.status == DeviceGrant.Status.CONSUMED and grant.account_id is None:
        raise GrantUnknown()
    if grant.status != DeviceGrant.Status.PENDING:
        raise GrantAlreadyResolved(grant.decision)
    return grant
