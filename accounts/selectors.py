"""Reads of identities and sessions, scoped to the calling subject."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.authentication import Subject
from accounts.models import AccessToken, IdentityProvider
from config.api.errors import ApiError
from config.api.wire import page_rows

SESSION_NOT_FOUND = "session not found"


def identity_providers_enabled() -> QuerySet[IdentityProvider]:
    """The providers partners may sign in with now (the issuer is known once discovery ran)."""
    return IdentityProvider.objects.filter(enabled=True).exclude(issuer="")


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


# The columns of a /account/sessions row, read as tuples: building a model instance per row cost
# more than the rest of the row's work.
SESSION_ROW_COLUMNS = (
    "id",
    "prefix",
    "client_id",
    "device_label",
    "created_at",
    "last_used_at",
    "expires_at",
)


def live_session_page(
    subject: Subject, *, page: int, limit: int
) -> tuple[int, list[tuple[Any, ...]]]:
    """``total`` and one page of the subject's live sessions, newest first (SESSION_ROW_COLUMNS)."""
    sessions = live_sessions(subject)
    total = sessions.count()
    rows = page_rows(
        sessions.values_list(*SESSION_ROW_COLUMNS), page=page, limit=limit, total=total
    )
    return total, rows


def session_get(subject: Subject, session_id: str) -> AccessToken:
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        raise ApiError(404, SESSION_NOT_FOUND) from None
    token = subject_tokens(subject).filter(pk=parsed).first()
    if token is None:
        raise ApiError(404, SESSION_NOT_FOUND)
    return token
