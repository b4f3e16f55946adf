"""Writes of the device flow: create, poll (mint + consume), approve, deny, purge.

Each service owns its transaction and its audit record. The page at ``/device`` and the JSON
endpoints call the same functions, so the limits and the binding rules are the same for both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Account, IdentityProvider
from accounts.services import MintedToken, access_token_mint
from config.api.errors import RateLimited
from config.db_locks import lock_name
from oauth_device import limits
from oauth_device.codes import (
    device_code_digest,
    generate_device_code,
    generate_user_code,
    normalize_user_code,
)
from oauth_device.errors import GrantAlreadyResolved, GrantUnknown, PollError, UnsupportedClient
from oauth_device.models import DeviceGrant
from oauth_device.selectors import device_grant_for_account, grant_by_user_code, seconds_left

logger = logging.getLogger("difyapi.device")

USER_CODE_ATTEMPTS = 5
SLOW_DOWN_STEP_SECONDS = 5  # RFC 8628 §3.5
# difyctl doubles its own interval on slow_down but never waits more than 60 s; past that a
# compliant client could never catch up with the server's interval.
MAX_POLL_INTERVAL_SECONDS = 60

Status = DeviceGrant.Status

# After a decision the grant lives at least this long, so the next poll can collect it.
DECISION_GRACE_SECONDS: dict[str, int] = {Status.APPROVED: 60, Status.DENIED: 1}


@dataclass(frozen=True)
class CreatedGrant:
    device_code: str  # plaintext, returned once to the client and never stored
    grant: DeviceGrant


def device_grant_create(
    *, client_id: str, device_label: str, ip: str, user_agent: str = ""
) -> CreatedGrant:
    """Start a login: a pending grant with a fresh device code and a unique user code."""
    if client_id not in settings.OPENAPI_KNOWN_CLIENT_IDS:
        raise UnsupportedClient()
    now = timezone.now()
    device_code = generate_device_code()
    # Count and insert under one per-IP lock, so parallel requests cannot overshoot the cap.
    with transaction.atomic():
        lock_name(f"device-grants-of-ip:{ip}")
        _pending_cap(ip, now)
        return _insert_grant(
            device_code,
            client_id=client_id,
            device_label=device_label,
            ip=ip,
            user_agent=user_agent,
            now=now,
        )


def _insert_grant(
    device_code: str,
    *,
    client_id: str,
    device_label: str,
    ip: str,
    user_agent: str,
    now: datetime,
) -> CreatedGrant:
    for _ in range(USER_CODE_ATTEMPTS):
        user_code = generate_user_code()
        if DeviceGrant.objects.filter(user_code=user_code).exclude(status=Status.CONSUMED).exists():
            continue
        try:
            with transaction.atomic():
                grant = DeviceGrant.objects.create(
                    device_code_hash=device_code_digest(device_code),
                    user_code=user_code,
                    client_id=client_id,
                    device_label=device_label,
                    status=Status.PENDING,
                    created_ip=ip[:64],
                    created_user_agent=user_agent[:512],
                    created_at=now,
                    expires_at=now + timedelta(seconds=settings.DEVICE_CODE_TTL_SECONDS),
                    interval=settings.DEVICE_POLL_INTERVAL_SECONDS,
                )
        except IntegrityError:  # another request took the same user code meanwhile
            continue
        logger.info("device grant %s created client_id=%s ip=%s", grant.id, client_id, ip)
        return CreatedGrant(device_code=device_code, grant=grant)
    raise RuntimeError("could not allocate a unique user code")


def _pending_cap(ip: str, now: datetime) -> None:
    open_grants = DeviceGrant.objects.filter(
        created_ip=ip[:64], status=Status.PENDING, expires_at__gt=now
    )
    if open_grants.count() >= settings.DEVICE_PENDING_PER_IP:
        first_expiry = open_grants.aggregate(first=Min("expires_at"))["first"]
        wait = (first_expiry - now).total_seconds() if first_expiry else 60
        raise RateLimited(int(wait) + 1, hint="too many pending device logins")


def device_grant_poll(*, device_code: str, client_id: str, ip: str) -> MintedToken:
    """One poll of the token endpoint (RFC 8628 §3.4/3.5; decisions §4).

    Returns the minted token exactly once: the first poll after approval mints the token and
    consumes the grant in one transaction, holding the grant's row lock, so of two concurrent
    polls only one can see the approved state. Anything else raises :class:`PollError`, after
    the transaction has committed what the poll changed (poll time, interval, consumption).
    """
    with transaction.atomic():
        outcome = _poll_locked(device_code_digest(device_code), client_id=client_id, ip=ip)
    if isinstance(outcome, PollError):
        raise outcome
    return outcome


def _poll_locked(digest: str, *, client_id: str, ip: str) -> MintedToken | PollError:
    now = timezone.now()
    # No select_related("account"): a poll that waited on the approval's row lock gets the new
    # grant row, but PostgreSQL keeps joined rows of unlocked tables from before the wait, so the
    # approving account would read as missing. ``grant.account`` below reads it in its own
    # statement, after the lock is held.
    grant = DeviceGrant.objects.select_for_update().filter(device_code_hash=digest).first()
    if grant is None or grant.status == Status.CONSUMED or grant.is_expired(now):
        return PollError("expired_token")
    if grant.client_id != client_id:
        # RFC 6749 §5.2: the device code was issued to another client.
        return PollError("invalid_grant")
    previous = grant.last_poll_at
    grant.last_poll_at = now
    # The first poll is never too early: clients poll once right after asking for a code.
    if previous is not None and (now - previous).total_seconds() < grant.interval:
        grant.interval = min(grant.interval + SLOW_DOWN_STEP_SECONDS, MAX_POLL_INTERVAL_SECONDS)
        grant.save(update_fields=["last_poll_at", "interval"])
        return PollError("slow_down", interval=grant.interval)
    if grant.status == Status.PENDING:
        grant.save(update_fields=["last_poll_at"])
        return PollError("authorization_pending")

    # Approved or denied: this poll consumes the grant, whatever happens next.
    grant.status = Status.CONSUMED
    grant.consumed_at = now
    fields = ["last_poll_at", "status", "consumed_at"]
    if grant.decision != Status.APPROVED:
        grant.save(update_fields=fields)
        return PollError("access_denied")
    if grant.external_email:
        return _mint_external(grant, fields, ip)
    account = grant.account
    if account is None or not account.is_active:
        grant.save(update_fields=fields)
        logger.warning("device grant %s: the approving account is gone or disabled", grant.id)
        return PollError("expired_token")
    minted = _deliver(grant, fields, ip, actor=Actor.of_account(account), account=account)
    if ip != grant.created_ip:
        # Not refused (laptops change networks), but worth a trace: contract §5.3 step 7.
        audit_record(
            "device_grant.cross_ip_poll",
            actor=Actor.of_account(account),
            account=account,
            token_id=minted.token.id,
            ip=ip,
            created_ip=grant.created_ip,
            client_id=grant.client_id,
            device_label=grant.device_label,
        )
    return minted


def _mint_external(grant: DeviceGrant, fields: list[str], ip: str) -> MintedToken | PollError:
    """The poll of a grant approved on the SSO branch: a ``dfoe_`` token whose issuer is the
    provider's, unless the provider was removed or disabled meanwhile."""
    provider = grant.identity_provider
    if provider is None or not provider.enabled or not provider.issuer:
        grant.save(update_fields=fields)
        logger.warning("device grant %s: its identity provider is gone or disabled", grant.id)
        return PollError("expired_token")
    return _deliver(
        grant,
        fields,
        ip,
        actor=Actor.external(grant.external_email),
        external_email=grant.external_email,
        external_issuer=provider.issuer,
        identity_provider=provider,
    )


def _deliver(
    grant: DeviceGrant, fields: list[str], ip: str, *, actor: Actor, **subject: Any
) -> MintedToken:
    """Mint the token of an approved grant (``subject``: who it is for) and consume the grant."""
    minted = access_token_mint(
        client_id=grant.client_id, device_label=grant.device_label, actor=actor, ip=ip, **subject
    )
    grant.token_id = minted.token.id
    grant.save(update_fields=[*fields, "token_id"])
    return minted


def _record_decision(grant: DeviceGrant, decision: str, ip: str, fields: list[str]) -> None:
    """Save an approve or deny on a locked grant (``fields``: who decided, set by the caller)."""
    now = timezone.now()
    grant.status = decision
    grant.decision = decision
    grant.decided_at = now
    grant.decided_ip = ip[:64]
    # A decision made just before expiry still reaches the terminal (contract §4.2).
    grace = now + timedelta(seconds=DECISION_GRACE_SECONDS[decision])
    grant.expires_at = max(grant.expires_at, grace)
    grant.save(
        update_fields=["status", "decision", "decided_at", "decided_ip", "expires_at", *fields]
    )


def device_grant_approve_external(
    *, user_code: str, provider: IdentityProvider, email: str, ip: str
) -> DeviceGrant:
    """Approve a pending login for an external SSO identity (the device flow's SSO branch).

    The grant must still be pending and unclaimed; the token is minted at the next poll.
    """
    actor = Actor.external(email)
    with transaction.atomic():
        code = normalize_user_code(user_code)
        grant = grant_by_user_code(code, lock=True) if code else None
        now = timezone.now()
        if grant is None or grant.is_expired(now) or grant.account_id is not None:
            raise GrantUnknown()
        if grant.status != Status.PENDING:
            raise GrantAlreadyResolved(grant.decision)
        grant.identity_provider = provider
        grant.external_email = email
        _record_decision(grant, Status.APPROVED, ip, ["identity_provider", "external_email"])
        audit_record(
            "device_grant.approved",
            actor=actor,
            ip=ip,
            grant_id=str(grant.id),
            client_id=grant.client_id,
            device_label=grant.device_label,
            identity_provider=provider.slug,
            subject_issuer=provider.issuer,
        )
    return grant


def device_grant_approve(*, user_code: str, account: Account, ip: str) -> DeviceGrant:
    """Approve a pending login for ``account``; the token itself is minted at the next poll."""
    return _decide(user_code=user_code, account=account, ip=ip, decision=Status.APPROVED)


def device_grant_deny(*, user_code: str, account: Account, ip: str) -> DeviceGrant:
    """Deny a pending login; the client's next poll gets ``access_denied`` once."""
    return _decide(user_code=user_code, account=account, ip=ip, decision=Status.DENIED)


def _decide(*, user_code: str, account: Account, ip: str, decision: str) -> DeviceGrant:
    """Shared by approve and deny: rate limits, wrong-code limits, then the claim.

    The first approve or deny POST binds the grant to its account; any other account then gets
    :class:`GrantUnknown`, the same answer as for a code that never existed.
    """
    limits.decision_hit(account)

    def claim() -> DeviceGrant:
        with transaction.atomic():
            grant = device_grant_for_account(user_code, account, lock=True)
            grant.account = account
            _record_decision(grant, decision, ip, ["account"])
            audit_record(
                f"device_grant.{decision}",
                actor=Actor.of_account(account),
                account=account,
                ip=ip,
                grant_id=str(grant.id),
                client_id=grant.client_id,
                device_label=grant.device_label,
                created_ip=grant.created_ip,
                expires_in_remaining=seconds_left(grant, grant.decided_at or timezone.now()),
            )
            return grant

    return limits.code_attempt(account, ip, claim)


def device_grants_purge() -> int:
    """Delete grants that can no longer be used: expired ones and consumed ones."""
    now = timezone.now()
    deleted, _ = DeviceGrant.objects.filter(
        Q(expires_at__lte=now) | Q(status=Status.CONSUMED)
    ).delete()
    return deleted
