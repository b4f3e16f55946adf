"""Reads of identities and sessions, scoped to the calling subject."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.authentication import Subject
from accounts.models import AccessToken, Account
from config.api.errors import ApiError
from workspaces.selectors import default_workspace_id, memberships_for_account
from workspaces.serializers import workspace_payload

SESSION_NOT_FOUND = "session not found"


def account_identity(account: Account) -> dict[str, Any]:
    """The ``account``, ``workspaces`` and ``default_workspace_id`` of /account and device login."""
    memberships = list(memberships_for_account(account))
    return {
        "account": {"id": str(account.id), "email": account.email, "name": account.display_name()},
        "workspaces": [workspace_payload(m) for m in memberships],
        "default_workspace_id": default_workspace_id(memberships),
    }


def subject_tokens(subject: Subject) -> QuerySet[AccessToken]:
    """Every token row of the subject; an account and an SSO identity sharing an email never mix."""
    if subject.is_account:
        return AccessToken.objects.filter(account=subject.account)
    return AccessToken.objects.filter(
        account__isnull=True, subject_email=subject.email, subject_issuer=subject.issuer
    )


def live_sessions(subject: Subject) -> QuerySet[AccessToken]:
    return (
        subject_tokens(subject)
        .filter(revoked_at__isnull=True, token_hash__isnull=False, expires_at__gt=timezone.now())
        .order_by("-created_at", "id")
    )


def session_get(subject: Subject, session_id: str) -> AccessToken:
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        raise ApiError(404, SESSION_NOT_FOUND) from None
    token = subject_tokens(subject).filter(pk=parsed).first()
    if token is None:
        raise ApiError(404, SESSION_NOT_FOUND)
    return token
