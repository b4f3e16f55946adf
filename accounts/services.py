"""Writes on accounts and access tokens. Each service owns its transaction and its audit record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import ACCOUNT_ISSUER, AccessToken, Account, IdentityProvider
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
    actor: Actor,
    ip: str = "",
    identity_provider: IdentityProvider | None = None,
) -> MintedToken:
    """Issue a token for an account, or for an external SSO subject (email + issuer).

    ``actor`` is who asked for it: the account itself at the end of a device login, or an
    operator running ``issue_token``. The previous live token of the same (subject, client, device
    label) is revoked in the same transaction: one live token per device.
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
            _revoke(old, now=now, action="revoked", actor=actor, reason="replaced by a new login")
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
            identity_provider=identity_provider,
        )
        audit_record(
            "access_token.issued",
            actor=actor,
            account=account,
            token_id=token.id,
            ip=ip,
            subject_type=subject_type,
            subject_email=email,
            client_id=client_id,
            device_label=device_label,
            expires_at=token.expires_at.isoformat(),
        )
    return MintedToken(raw=raw, token=token)


def access_token_revoke(token: AccessToken, *, actor: Actor, reason: str = "revoked") -> bool:
    """Revoke a token; idempotent. Returns whether this call revoked it."""
    with transaction.atomic():
        return _revoke(token, now=timezone.now(), action="revoked", actor=actor, reason=reason)


def access_token_expire(token: AccessToken) -> bool:
    """Hard-expire a token found past its ``expires_at``; audited once."""
    with transaction.atomic():
        return _revoke(
            token, now=timezone.now(), action="expired", actor=Actor.system(), reason="expired"
        )


def _revoke(
    token: AccessToken,
    *,
    now: datetime,
    action: str,
    actor: Actor,
    reason: str,
) -> bool:
    changed = AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, token_hash=None
    )
    token.revoked_at = token.revoked_at or now
    token.token_hash = None
    if changed:
        audit_record(
            f"access_token.{action}",
            actor=actor,
            account=token.account,
            token_id=token.id,
            reason=reason,
            client_id=token.client_id,
            device_label=token.device_label,
        )
    return bool(changed)


def account_set_status(account: Account, status: str, *, actor: Actor) -> bool:
    """Disable or enable an account. True when it changed.

    Disabling also revokes every live token of the account, for good: their digests are gone, so
    enabling the account again brings none back and each device signs in anew. Each revocation
    is audited (reason ``account_<status>``, e.g. ``account_disabled``).
    """
    if status not in Account.Status.values:
        raise ValueError(f"unknown account status {status!r}")
    with transaction.atomic():
        changed = Account.objects.filter(pk=account.pk).exclude(status=status).update(status=status)
        account.status = status
        if changed:
            event = {
                Account.Status.ACTIVE: "enabled",
                Account.Status.DISABLED: "disabled",
                Account.Status.PENDING: "made_pending",
            }[Account.Status(status)]
            audit_record(f"account.{event}", actor=actor, account=account)
        if status != Account.Status.ACTIVE:
            now = timezone.now()
            live = AccessToken.objects.select_for_update().filter(
                account=account, revoked_at__isnull=True
            )
            for token in live:
                _revoke(token, now=now, action="revoked", actor=actor, reason=f"account_{status}")
    return bool(changed)


def account_create(*, email: str, password: str | None, name: str = "", actor: Actor) -> Account:
    """A new account (email login, stored lower-case); ``password`` None leaves it unusable."""
    with transaction.atomic():
        account = Account.objects.create_user(email, password, name=name)
        audit_record("account.created", actor=actor, account=account, email=account.email)
    return account


# What the admin's change form may edit besides the status (the password has its own form).
ACCOUNT_EDITABLE = ("email", "name", "is_staff", "is_superuser", "groups", "user_permissions")
_ACCOUNT_RELATIONS = ("groups", "user_permissions")


def account_update(account: Account, *, changes: dict[str, Any], actor: Actor) -> bool:
    """Change profile and permission fields; one ``account.updated`` record naming each change."""
    unknown = set(changes) - set(ACCOUNT_EDITABLE)
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        diff: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            if name in _ACCOUNT_RELATIONS:
                manager = getattr(locked, name)
                before = sorted(str(item) for item in manager.all())
                after = sorted(str(item) for item in value)
                if before != after:
                    manager.set(list(value))
                    diff[name] = {"before": before, "after": after}
            elif getattr(locked, name) != value:
                diff[name] = {"before": getattr(locked, name), "after": value}
                setattr(locked, name, value)
                setattr(account, name, value)
        if not diff:
            return False
        fields = [name for name in diff if name not in _ACCOUNT_RELATIONS]
        if fields:
            locked.save(update_fields=fields)
        audit_record("account.updated", actor=actor, account=account, changes=diff)
    return True


def access_tokens_expire_overdue() -> int:
    """Hard-expire every live token past its ``expires_at`` (housekeeping); each is audited once."""
    overdue = AccessToken.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())
    return sum(access_token_expire(token) for token in overdue.select_related("account"))


def identity_provider_revoke_tokens(
    provider: IdentityProvider, *, actor: Actor, reason: str
) -> int:
    """Revoke every live token of the provider's users (each audited); the count revoked."""
    with transaction.atomic():
        now = timezone.now()
        live = AccessToken.objects.select_for_update().filter(
            identity_provider=provider, revoked_at__isnull=True
        )
        return sum(
            _revoke(token, now=now, action="revoked", actor=actor, reason=reason) for token in live
        )


def identity_provider_save(
    provider: IdentityProvider, *, client_secret: str | None, actor: Actor, created: bool
) -> None:
    """Save an operator's provider; a new ``client_secret`` is sealed, None keeps the stored one.

    Disabling the provider revokes its users' tokens (they sign in again once it is enabled).
    """
    from config.crypto import seal

    with transaction.atomic():
        if client_secret:
            provider.client_secret = seal(client_secret)
        was_enabled = (
            None
            if created
            else IdentityProvider.objects.filter(pk=provider.pk)
            .values_list("enabled", flat=True)
            .first()
        )
        provider.save()
        audit_record(
            "identity_provider.created" if created else "identity_provider.updated",
            actor=actor,
            provider=provider.slug,
            issuer=provider.issuer,
            enabled=provider.enabled,
        )
        if was_enabled and not provider.enabled:
            identity_provider_revoke_tokens(provider, actor=actor, reason="provider_disabled")


def identity_provider_delete(provider: IdentityProvider, *, actor: Actor) -> None:
    """Remove a provider; its users' tokens are revoked first, in the same transaction."""
    with transaction.atomic():
        identity_provider_revoke_tokens(provider, actor=actor, reason="provider_removed")
        audit_record("identity_provider.deleted", actor=actor, provider=provider.slug)
        provider.delete()
