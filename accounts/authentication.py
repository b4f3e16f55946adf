"""Bearer authentication (contract §3.3, decisions §3): one implementation for DRF views and
Channels consumers, the :class:`Subject` it yields, and :class:`BearerAPIView`, the base class of
every bearer-authenticated view.

Order: header → format check (no query for a malformed token) → per-token rate limit → one indexed
query by digest → expiry (hard-expire) → disabled account → ``last_used_at`` at most once a minute.
Nothing about identity is cached, so revocation, expiry, a disabled account or a removed membership
take effect on the very next request in every process.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import AccessToken, Account, IdentityProvider
from accounts.services import access_token_expire
from accounts.tokens import token_digest, well_formed
from config.api import ratelimit
from config.api.errors import (
    BEARER_CHALLENGE,
    INSUFFICIENT_SCOPE_CHALLENGE,
    INVALID_TOKEN_CHALLENGE,
    ApiError,
    RateLimited,
)
from config.compiled_query import CompiledQuery

logger = logging.getLogger("difyapi.auth")
audit_logger = logging.getLogger("difyapi.audit")

ACCOUNT = AccessToken.SubjectType.ACCOUNT.value
EXTERNAL = AccessToken.SubjectType.EXTERNAL_SSO.value
CANONICAL_PATH = {
    ACCOUNT: "/openapi/v1/apps",
    EXTERNAL: "/openapi/v1/permitted-external-apps",
}

SCOPES_BY_SUBJECT = {
    AccessToken.SubjectType.ACCOUNT: frozenset({"full"}),
    AccessToken.SubjectType.EXTERNAL_SSO: frozenset({"apps:run", "apps:read:permitted-external"}),
}


@dataclass
class Subject:
    """Who is calling: an account, or an external SSO identity (email + issuer)."""

    subject_type: str
    email: str
    issuer: str | None
    account: Account | None
    token: AccessToken
    scopes: frozenset[str] = field(default_factory=frozenset)

    # DRF and Django look for these on request.user.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_account(self) -> bool:
        return self.subject_type == AccessToken.SubjectType.ACCOUNT

    def has_scope(self, scope: str) -> bool:
        return "full" in self.scopes or scope in self.scopes

    @property
    def key(self) -> str:
        """Who this is, as one string: rate-limit buckets, stream caps and ownership columns.

        An account is its id (a renamed email stays the same subject); an external identity is its
        issuer and email, so the same email from two identity providers never shares anything.
        """
        if self.account is not None:
            return f"account:{self.account.pk}"
        return f"{self.subject_type}:{self.issuer or ''}:{self.email}"


def missing_bearer(message: str = "missing bearer token") -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": BEARER_CHALLENGE})


def invalid_bearer() -> ApiError:
    # The message stays the contract's ``invalid_bearer`` (clients match it); the hint says what
    # to do about it.
    return ApiError(
        401,
        "invalid_bearer",
        hint=INVALID_BEARER_HINT,
        headers={"WWW-Authenticate": INVALID_TOKEN_CHALLENGE},
    )


INVALID_BEARER_HINT = (
    "the token is unknown, revoked or expired: log in again (difyctl auth login, or the device "
    "flow in the README) for a new one"
)


def extract_bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def resolve_bearer(authorization: str | None, query: BearerQuery | None = None) -> Subject:
    """Authenticate an ``Authorization`` header value or raise the contract's 401/429.

    ``query`` is the token lookup: :data:`LIVE_TOKEN`, or a view's ``bearer_query`` that reads
    more about the caller in the same round trip (annotations on the token).
    """
    raw = extract_bearer(authorization)
    if raw is None:
        raise missing_bearer()
    if not well_formed(raw):
        raise invalid_bearer()
    digest = token_digest(raw)
    wait = ratelimit.hit("token", digest, limit=settings.OPENAPI_RATE_LIMIT_PER_TOKEN, window=60)
    if wait is not None:
        raise RateLimited(wait, token_body=True)
    token = (query or LIVE_TOKEN).first(digest)
    if token is None or not hmac.compare_digest(token.token_hash or "", digest):
        raise invalid_bearer()
    if not raw.startswith(token.prefix):
        logger.error("token %s: prefix does not match its row", token.id)
        raise invalid_bearer()
    now = timezone.now()
    if token.expires_at <= now:
        access_token_expire(token)
        raise invalid_bearer()
    account = token.account
    if token.subject_type == AccessToken.SubjectType.ACCOUNT:
        if account is None or not account.is_active:
            raise invalid_bearer()
    elif token.identity_provider_id is not None and not _provider_enabled(
        token.identity_provider_id
    ):
        # Disabling a provider revokes its tokens; this also covers a write that bypassed that.
        raise invalid_bearer()
    _touch_last_used(token, now)
    return Subject(
        subject_type=token.subject_type,
        email=token.subject_email,
        issuer=None
        if token.subject_type == AccessToken.SubjectType.ACCOUNT
        else token.subject_issuer,
        account=account,
        token=token,
        scopes=SCOPES_BY_SUBJECT[AccessToken.SubjectType(token.subject_type)],
    )


def _provider_enabled(provider_id: uuid.UUID) -> bool:
    """Whether the identity provider of an external token is still enabled (one indexed query,
    for SSO tokens only: account requests never pay for it)."""
    return IdentityProvider.objects.filter(pk=provider_id, enabled=True).exists()


def live_token_queryset(digest: str) -> QuerySet[AccessToken]:
    """The live (unrevoked) token with this digest, and its account: the base of every
    ``BearerQuery``."""
    # token_hash is unique: no ordering (the model's default would sort the one row). The
    # account's password hash is never needed to serve a bearer call: it is not read.
    return (
        AccessToken.objects.select_related("account")
        .defer("account__password")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .order_by()[:1]
    )


BearerQuery = CompiledQuery[AccessToken]
DIGEST_PLACEHOLDER = "<digest placeholder>"
# Runs on every bearer request; compiling it cost more than running it (config/compiled_query.py).
LIVE_TOKEN: BearerQuery = CompiledQuery(live_token_queryset, DIGEST_PLACEHOLDER)


def _touch_last_used(token: AccessToken, now: datetime) -> None:
    interval = timedelta(seconds=settings.LAST_USED_WRITE_INTERVAL_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < interval:
        return
    # The WHERE clause keeps concurrent requests from writing more than once a minute.
    AccessToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - interval)
    ).update(last_used_at=now)
    token.last_used_at = now


class BearerAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Subject, AccessToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        view = (request.parser_context or {}).get("view")
        subject = resolve_bearer(header, getattr(view, "bearer_query", None))
        return subject, subject.token

    def authenticate_header(self, request: Request) -> str:
        return BEARER_CHALLENGE


class BearerAPIView(APIView):
    # Authenticated by bearer token; ``subjects`` is the surface, ``scope`` the scope needed.
    # (A comment, not a docstring: drf-spectacular would show it on every operation.)

    authentication_classes: ClassVar[list[type]] = [BearerAuthentication]  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    subjects: ClassVar[frozenset[str]] = frozenset({ACCOUNT, EXTERNAL})
    scope: ClassVar[str | None] = None
    # The token lookup (None: LIVE_TOKEN); a view that always needs more about the caller reads it
    # in the same query (workspaces.selectors.TOKEN_WITH_MEMBERSHIPS).
    bearer_query: ClassVar[BearerQuery | None] = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        subject = request.user
        if not isinstance(subject, Subject):
            raise missing_bearer()
        if subject.subject_type not in self.subjects:
            audit_logger.info(
                "audit action=openapi.wrong_surface_denied subject_type=%s attempted_path=%s "
                "client_id=%s token_id=%s",
                subject.subject_type,
                request.path,
                subject.token.client_id,
                subject.token.id,
            )
            raise ApiError(
                403, f"wrong_surface (canonical: {CANONICAL_PATH[subject.subject_type]})"
            )
        if self.scope and not subject.has_scope(self.scope):
            raise ApiError(
                403,
                f"insufficient_scope: {self.scope}",
                headers={"WWW-Authenticate": INSUFFICIENT_SCOPE_CHALLENGE},
            )

    @property
    def subject(self) -> Subject:
        subject = self.request.user
        assert isinstance(subject, Subject)
        return subject
