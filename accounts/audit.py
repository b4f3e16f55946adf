"""Audit records: one row per security-relevant write, plus a structured log line."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from accounts.models import Account, AuditEvent

logger = logging.getLogger("difyapi.audit")


def audit_record(
    action: str,
    *,
    actor_type: str = "",
    actor_email: str = "",
    account: Account | None = None,
    token_id: uuid.UUID | None = None,
    ip: str = "",
    **details: Any,
) -> AuditEvent:
    event = AuditEvent.objects.create(
        action=action,
        actor_type=actor_type,
        actor_email=actor_email,
        account=account,
        token_id=token_id,
        ip=ip,
        details={key: _jsonable(value) for key, value in details.items()},
    )
    logger.info(
        "audit action=%s actor_type=%s actor=%s token_id=%s details=%s",
        action,
        actor_type,
        actor_email,
        token_id,
        event.details,
    )
    return event


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
