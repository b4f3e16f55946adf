"""Audit records: one row per security-relevant write, plus a structured log line.

One shape for every record: an action named ``<entity>.<event>`` (``access_token.issued``,
``app.updated``; the entity is the one the service is named after) and an :class:`Actor` saying
who did it: an API subject, an admin user, an operator command, or the system itself.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from accounts.models import Account, AuditEvent

logger = logging.getLogger("difyapi.audit")

ACTION_NAME = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


class _Caller(Protocol):
    subject_type: str
    email: str


class _BearerCaller(_Caller, Protocol):
    account: Account | None
    token: Any  # its AccessToken


@dataclass(frozen=True)
class Actor:
    """Who made a write. ``name`` is the email of a person, or the command an operator ran."""

    type: str
    name: str = ""

    ACCOUNT: ClassVar[str] = "account"
    ADMIN: ClassVar[str] = "admin"
    OPERATOR: ClassVar[str] = "operator"
    SYSTEM: ClassVar[str] = "system"
    EXTERNAL_SSO: ClassVar[str] = "external_sso"

    @classmethod
    def of_subject(cls, subject: _Caller) -> Actor:
        """The bearer-authenticated caller (an account or an external SSO identity)."""
        return cls(subject.subject_type, subject.email)

    @classmethod
    def of_account(cls, account: Account) -> Actor:
        """An account acting for itself through a browser session (the device approval page)."""
        return cls(cls.ACCOUNT, account.email)

    @classmethod
    def admin(cls, user: Any) -> Actor:
        """A staff user in the Django admin."""
        return cls(cls.ADMIN, str(getattr(user, "email", "") or user))

    @classmethod
    def external(cls, email: str) -> Actor:
        """An external SSO identity (no account here), e.g. approving its own device login."""
        return cls(cls.EXTERNAL_SSO, email)

    @classmethod
    def operator(cls, command: str) -> Actor:
        """Someone at the server's shell running ``manage.py <command>``; not an account."""
        return cls(cls.OPERATOR, f"manage.py {command}")

    @classmethod
    def system(cls, what: str = "") -> Actor:
        """The service itself (housekeeping, expiry found on use)."""
        return cls(cls.SYSTEM, what)


def audit_record(
    action: str,
    *,
    actor: Actor,
    account: Account | None = None,
    token_id: uuid.UUID | None = None,
    ip: str = "",
    **details: Any,
) -> AuditEvent:
    if not ACTION_NAME.match(action):
        raise ValueError(f"audit action {action!r} is not <entity>.<event>")
    event = AuditEvent.objects.create(
        action=action,
        actor_type=actor.type,
        actor_email=actor.name,
        account=account,
        token_id=token_id,
        ip=ip,
        details={key: _jsonable(value) for key, value in details.items()},
    )
    logger.info(
        "audit action=%s actor_type=%s actor=%s token_id=%s details=%s",
        action,
        actor.type,
        actor.name,
        token_id,
        event.details,
    )
    return event


def audit_by_subject(
    action: str, subject: _BearerCaller, *, ip: str = "", **details: Any
) -> AuditEvent:
    """:func:`audit_record` of a write made by a bearer-authenticated caller: the subject as
    actor, its account and the token it used."""
    return audit_record(
        action,
        actor=Actor.of_subject(subject),
        account=subject.account,
        token_id=subject.token.id,
        ip=ip,
        **details,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
