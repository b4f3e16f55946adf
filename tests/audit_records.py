"""Comparing audit records: the admin's and the service's record of the same change must match."""

from __future__ import annotations

from typing import Any

from accounts.models import AuditEvent


def last_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def only_new_event(since: int) -> AuditEvent:
    """The one record written after ``since`` (fails when there are none or several)."""
    events = list(AuditEvent.objects.filter(id__gt=since))
    assert len(events) == 1, [e.action for e in events]
    return events[0]


def record(event: AuditEvent, *ignore: str) -> dict[str, Any]:
    """A record without what necessarily differs between two writes (row id, time, ``ignore``d
    detail keys such as a new object's id)."""
    return {
        "action": event.action,
        "actor_type": event.actor_type,
        "actor_email": event.actor_email,
        "account_id": event.account_id,
        "token_id": event.token_id,
        "details": {k: v for k, v in event.details.items() if k not in ignore},
    }
