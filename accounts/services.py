"""Writes on accounts and access tokens. Each service owns its transaction and its audit record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import ACCOUNT_ISSUER, AccessToken, Account
from accounts.tokens import ACCOUNT_PREFIX, EXTERNAL_PREFIX, generate_token, token_digest
from config.db_locks import lock_name


@dataclass(frozen=True)
class MintedToken:
    raw: str  # the only place the secret exists in plaintext; shown once, never stored
    token: AccessToken


def access_token_mint(
    *,
    client_id: str,
    device_label: str,
    account: Account | None = None,
    external_email: str | None = None,
    external_issuer: str | None = None,
    ttl_days: int | None = None,
    actor_email: str = "",
    ip: str = "",
) -> MintedToken:
    """Issue a token for an account, or for an external SSO subject (email + issuer).

    The previous live token of the same (subject, client, device label) is revoked in the same
    transaction: one live token per device.
    """
    if (account is None) == (external_email is None):
        raise ValueError("exactly one of account and external_email is required")
    if account is not None:
        subject_type = AccessToken.SubjectType.ACCOUNT
        email, issuer, prefix = account.email, ACCOUNT_ISSUER, ACCOUNT_PREFIX
    else:
        if not external_issuer:
            raise ValueError("external_issuer is required for an external subject")
        subject_type = AccessToken.SubjectType.EXTERNAL_SSO
        email, issuer, prefix = str(external_email).lower(), external_issuer, EXTERNAL_PREFIX
    days = ttl_days if ttl_days is not None else settings.OAUTH_TTL_DAYS
    raw = generate_token(prefix)
    now = timezone.now()
    with transaction.atomic():
        # Two logins from one device at once: the second waits here, then finds and revokes the
        # first one's token instead of failing on the one-live-token-per-device constraint.
        lock_name(f"access-token:{email}:{issuer}:{client_id}:{device_label}")
        previous = list(
            AccessToken.objects.select_for_update().filter(
                subject_email=email,
                subject_issuer=issuer,
                client_id=client_id,
                device_label=device_label,
                revoked_at__isnull=True,
            )
        )
        for old in previous:
            _revoke(
                old,
                now=now,
                action="token_revoked",
                actor_type=subject_type,
                actor_email=actor_email or email,
                reason="replaced by a new login",
            )
        token = AccessToken.objects.create(
            subject_type=subject_type,
            subject_email=email,
            subject_issuer=issuer,
            account=account,
            client_id=client_id,
            device_label=device_label,
            prefix=prefix,
            token_hash=token_digest(raw),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        audit_record(
            "token_issued",
            actor_type=subject_type,
            actor_email=actor_email or email,
            account=account,
            token_id=token.id,
            ip=ip,
            client_id=client_id,
            device_label=device_label,
            expires_at=token.expires_at.isoformat(),
        )
    return MintedToken(raw=raw, token=token)


def access_token_revoke(
    token: AccessToken, *, actor_type: str, actor_email: str, reason: str = "revoked"
) -> bool:
    """Revoke a token; idempotent. Returns whether this call revoked it."""
    with transaction.atomic():
        return _revoke(
            token,
            now=timezone.now(),
            action="token_revoked",
            actor_type=actor_type,
            actor_email=actor_email,
            reason=reason,
        )


def access_token_expire(token: AccessToken) -> bool:
    """Hard-expire a token found past its ``expires_at``; audited once."""
    with transaction.atomic():
        return _revoke(
            token,
            now=timezone.now(),
            action="token_expired",
            actor_type="system",
            actor_email="",
            reason="expired",
        )


def _revoke(
    token: AccessToken,
    *,
    now: datetime,
    action: str,
    actor_type: str,
    actor_email: str,
    reason: str,
) -> bool:
    changed = AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, token_hash=None
    )
    token.revoked_at = token.revoked_at or now
    token.token_hash = None
    if changed:
        audit_record(
            action,
            actor_type=actor_type,
            actor_email=actor_email,
            account=token.account,
            token_id=token.id,
            reason=reason,
            client_id=token.client_id,
            device_label=token.device_label,
        )
    return bool(changed)


def account_set_status(account: Account, status: str, *, actor_email: str) -> None:
    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(status=status)
        account.status = status
        audit_record(
            f"account_{status}", actor_type="admin", actor_email=actor_email, account=account
        )


def access_tokens_expire_overdue() -> int:
    """Hard-expire every live token past its ``expires_at`` (housekeeping); each is audited once."""
    overdue = AccessToken.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())
    return sum(access_token_expire(token) for token in overdue.select_related("account"))
