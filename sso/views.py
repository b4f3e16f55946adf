"""The device flow's SSO branch (contract §5 note; issue 23): a partner's user approves a
``difyctl`` login with their OpenID provider instead of an account here.

``sso-initiate`` (browser) → the provider → ``sso-complete`` verifies the ID token and sets the
5-minute signed approval-grant cookie on the device path (it carries the verified email, the
provider, the user code, a single-use nonce and a CSRF token), then shows the confirmation page.
``approve-external`` checks, in this order: the cookie (401), the per-email limit (counted for
every attempt with a valid cookie, 429), the CSRF token (403), the nonce (single use, 401), then
approves the grant. ``approval-context`` tells a script-driven page what the cookie says.
An email that belongs to an account here is refused: the person logs in with the account.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, IdentityProvider
from config.api import ratelimit
from config.api.client_ip import client_ip
from config.api.errors import ApiError, RateLimited
from config.api.parsers import BoundedJSONParser
from config.api.ratelimit import LimiterUnavailable
from config.api.schema import error_responses
from config.limit_pages import limiter_unavailable_page
from config.public_url import public_url
from oauth_device import limits, services
from oauth_device.codes import normalize_user_code
from oauth_device.errors import GrantAlreadyResolved, GrantUnknown
from oauth_device.models import DeviceGrant
from oauth_device.pages import rate_limited_page
from oauth_device.selectors import grant_by_user_code
from oauth_device.serializers import DeviceMutateResponseSerializer
from sso.oidc import SsoError, authorization_finish, authorization_start

COOKIE_NAME = "device_approval_grant"
COOKIE_SALT = "oauth_device.sso.approval_grant"
STATE_KEY = "sso_state:{}"
NONCE_KEY = "device_approval_grant_nonce:{}"
NONCE_TTL_SECONDS = 600
CSRF_HEADER = "HTTP_X_CSRF_TOKEN"


def cookie_path() -> str:
    """``/openapi/v1/oauth/device``: the cookie reaches only the device routes."""
    return reverse("oauth-device-code").rsplit("/", 1)[0]


def _page(request: HttpRequest, outcome: str, *, status: int = 200, **context: Any) -> HttpResponse:
    response = render(request, "device/sso.html", {"outcome": outcome, **context}, status=status)
    return _browser_page(response)


def _browser_page(response: HttpResponse) -> HttpResponse:
    """Keep this page HTML: the API boundary turns other error pages into JSON envelopes."""
    response.browser_page = True  # type: ignore[attr-defined]
    return response


def _pending_grant(user_code: str) -> DeviceGrant:
    code = normalize_user_code(user_code)
    grant = grant_by_user_code(code) if code else None
    if grant is None or grant.is_expired() or grant.account_id is not None:
        raise GrantUnknown()
    if grant.status != DeviceGrant.Status.PENDING:
        raise GrantAlreadyResolved(grant.decision)
    return grant


def _redirect_uri(request: HttpRequest) -> str:
    return public_url(request, reverse("oauth-device-sso-complete"))


@require_GET
def sso_initiate(request: HttpRequest) -> HttpResponse:
    """``GET /oauth/device/sso-initiate?user_code=…&provider=<slug>``: off to the provider."""
    provider = IdentityProvider.objects.filter(
        slug=request.GET.get("provider", "")[:64], enabled=True
    ).first()
    if provider is None:
        return _page(request, "no_provider", status=404)
    user_code = request.GET.get("user_code", "")[:32]
    try:
        grant = limits.code_attempt(None, client_ip(request), lambda: _pending_grant(user_code))
        start = authorization_start(provider, _redirect_uri(request))
    except RateLimited as exc:
        return _browser_page(rate_limited_page(request, exc))
    except LimiterUnavailable as exc:
        return _browser_page(limiter_unavailable_page(request, exc))
    except (GrantUnknown, GrantAlreadyResolved):
        return _page(request, "unknown_code", status=404)
    except SsoError as exc:
        return _page(request, "sso_error", status=502, reason=exc.reason)
    state = {
        "provider": str(provider.pk),
        "nonce": start.nonce,
        "verifier": start.code_verifier,
        "user_code": grant.user_code,
    }
    cache.set(STATE_KEY.format(start.state), state, timeout=settings.SSO_STATE_TTL_SECONDS)
    response = HttpResponseRedirect(start.url)
    response["Cache-Control"] = "no-store"
    return response


def _take_state(state: str) -> dict[str, Any] | None:
    """The sign-in this ``state`` started, once: a replayed state finds nothing."""
    if not state or len(state) > 128:
        return None
    key = STATE_KEY.format(state)
    value = cache.get(key)
    if not isinstance(value, dict) or not cache.delete(key):
        return None
    return value


@require_GET
def sso_complete(request: HttpRequest) -> HttpResponse:
    """``GET /oauth/device/sso-complete?code=…&state=…``: the provider's redirect back."""
    pending = _take_state(request.GET.get("state", ""))
    if pending is None:
        return _page(request, "sso_error", status=400, reason="this sign-in link was already used")
    provider = IdentityProvider.objects.filter(pk=pending["provider"], enabled=True).first()
    if provider is None:
        return _page(request, "no_provider", status=404)
    if request.GET.get("error") or not request.GET.get("code"):
        return _page(request, "sso_error", status=400, reason="the sign-in was cancelled")
    try:
        identity = authorization_finish(
            provider,
            redirect_uri=_redirect_uri(request),
            code=request.GET["code"][:2048],
            code_verifier=pending["verifier"],
            nonce=pending["nonce"],
        )
    except SsoError as exc:
        return _page(request, "sso_error", status=403, reason=exc.reason)
    if Account.objects.filter(email__iexact=identity.email).exists():
        # Never merged: the person has an account here and logs in with it (as upstream does).
        return _page(request, "has_account", status=409, email=identity.email)
    try:
        grant = _pending_grant(pending["user_code"])
    except (GrantUnknown, GrantAlreadyResolved):
        return _page(request, "unknown_code", status=404)
    csrf_token = secrets.token_urlsafe(24)
    grant_cookie = {
        "e": identity.email,
        "i": identity.issuer,
        "p": str(provider.pk),
        "u": grant.user_code,
        "n": secrets.token_urlsafe(24),
        "c": csrf_token,
    }
    ttl = settings.SSO_APPROVAL_GRANT_TTL_SECONDS
    response = _page(
        request,
        "confirm",
        grant=grant,
        email=identity.email,
        provider=provider,
        csrf_token=csrf_token,
        minutes=max(1, ttl // 60),
    )
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps(grant_cookie, salt=COOKIE_SALT, compress=True),
        max_age=ttl,
        path=cookie_path(),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    response["Cache-Control"] = "no-store"
    return response


def read_grant_cookie(request: HttpRequest) -> dict[str, Any]:
    """The approval-grant cookie's content, if signed by us and younger than its TTL; else 401."""
    raw = request.COOKIES.get(COOKIE_NAME, "")
    try:
        value = signing.loads(
            raw,
            salt=COOKIE_SALT,
            max_age=timedelta(seconds=settings.SSO_APPROVAL_GRANT_TTL_SECONDS),
        )
    except signing.BadSignature:  # includes SignatureExpired
        raise ApiError(
            401, "approval grant missing or expired", code="invalid_approval_grant"
        ) from None
    if not isinstance(value, dict) or not all(k in value for k in "eipunc"):
        raise ApiError(401, "approval grant missing or expired", code="invalid_approval_grant")
    return value


class ApprovalContextSerializer(serializers.Serializer[Any]):
    subject_type = serializers.CharField()
    subject_email = serializers.EmailField()
    subject_issuer = serializers.CharField()
    user_code = serializers.CharField()
    client_id = serializers.CharField(allow_null=True)
    device_label = serializers.CharField(allow_null=True)
    csrf_token = serializers.CharField(help_text="send it back as the X-CSRF-Token header")


class ApproveExternalSerializer(serializers.Serializer[Any]):
    csrf_token = serializers.CharField(
        required=False, help_text="the form field; scripts send the X-CSRF-Token header instead"
    )


class ApprovalContextView(APIView):
    """``GET /oauth/device/approval-context``: who the approval-grant cookie is for."""

    authentication_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = []  # type: ignore[misc]

    @extend_schema(
        operation_id="oauth_device_approval_context",
        summary="What the approval-grant cookie of the SSO branch says (after sso-complete)",
        responses={200: ApprovalContextSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        grant_cookie = read_grant_cookie(request)
        row = grant_by_user_code(str(grant_cookie["u"]))
        return Response(
            {
                "subject_type": "external_sso",
                "subject_email": grant_cookie["e"],
                "subject_issuer": grant_cookie["i"],
                "user_code": grant_cookie["u"],
                "client_id": row.client_id if row else None,
                "device_label": row.device_label if row else None,
                "csrf_token": grant_cookie["c"],
            },
            headers={"Cache-Control": "no-store"},
        )


def _json_or_page(responses: dict[int, Any]) -> dict[tuple[int, str], Any]:
    """Each status answered as JSON (a script's JSON body) or as the approval page (the page's
    own form post): both are documented, so a client knows which it gets for which request."""
    page = OpenApiResponse(OpenApiTypes.STR, description="the approval page (a form post)")
    documented: dict[tuple[int, str], Any] = {}
    for status, response in responses.items():
        documented[(status, "application/json")] = response
        documented[(status, "text/html")] = page
    return documented


class ApproveExternalView(APIView):
    """``POST /oauth/device/approve-external``: JSON for scripts, a page for the form."""

    authentication_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    permission_classes: ClassVar[list[type]] = []  # type: ignore[misc]
    parser_classes: ClassVar[list[type]] = [BoundedJSONParser, FormParser]  # type: ignore[misc]

    @extend_schema(
        operation_id="oauth_device_approve_external",
        summary="Approve a device login as the external SSO user of the approval-grant cookie",
        request=ApproveExternalSerializer,
        responses=_json_or_page(
            {200: DeviceMutateResponseSerializer, **error_responses(401, 403, 404, 409, 429)}
        ),
    )
    def post(self, request: Request) -> HttpResponse:
        from_form = request.content_type.startswith("application/x-www-form-urlencoded")
        try:
            grant = self._approve(request)
        except ApiError as exc:
            if not from_form:
                raise
            return _page(request, "refused", status=exc.status, reason=exc.message)
        if from_form:
            response = _page(request, "approved", grant=grant)
        else:
            response = Response({"status": "approved"})
        response.delete_cookie(COOKIE_NAME, path=cookie_path())
        return response

    def _approve(self, request: Request) -> DeviceGrant:
        grant_cookie = read_grant_cookie(request)
        email = str(grant_cookie["e"])
        wait = ratelimit.hit(
            "sso_approve", email, limit=settings.SSO_APPROVE_PER_EMAIL_PER_HOUR, window=3600
        )
        if wait is not None:
            raise RateLimited(wait)
        sent = request.META.get(CSRF_HEADER) or str(request.data.get("csrf_token") or "")
        if not sent or not hmac.compare_digest(sent, str(grant_cookie["c"])):
            raise ApiError(403, "CSRF verification failed", code="csrf_failed")
        if not cache.add(NONCE_KEY.format(grant_cookie["n"]), 1, timeout=NONCE_TTL_SECONDS):
            raise ApiError(401, "approval grant already used", code="invalid_approval_grant")
        provider = IdentityProvider.objects.filter(pk=grant_cookie["p"], enabled=True).first()
        if provider is None or provider.issuer != grant_cookie["i"]:
            raise ApiError(403, "the identity provider is not available", code="forbidden")
        if not provider.allows_email(email):
            raise ApiError(
                403, "this email address's domain may not sign in here", code="forbidden"
            )
        try:
            return services.device_grant_approve_external(
                user_code=str(grant_cookie["u"]),
                provider=provider,
                email=email,
                ip=client_ip(request),
            )
        except GrantUnknown:
            raise ApiError(
                404, "expired_or_unknown", body={"error": "expired_or_unknown"}
            ) from None
        except GrantAlreadyResolved:
            raise ApiError(409, "already_resolved", body={"error": "already_resolved"}) from None
