"""Reads of identities and sessions, scoped to the calling subject."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone

from accounts.authentication import Subject
from accounts.models import AccessToken
from config.api.errors import ApiError

SESSION_NOT_FOUND = "session not found"


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
