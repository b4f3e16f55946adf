"""The approval page at ``/device`` (the ``verification_uri``): enter code → confirm → result.

Server-rendered, login required, CSRF on every POST (Django's middleware). ``?user_code=`` only
pre-fills the form: nothing is decided without the user's own POST of Approve or Deny. The page
calls the same services as the JSON endpoints.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts.models import Account
from accounts.selectors import identity_providers_enabled
from config.api.client_ip import client_ip
from config.api.errors import RateLimited
from config.api.ratelimit import LimiterUnavailable
from config.limit_pages import limiter_unavailable_page
from oauth_device import limits, services
from oauth_device.codes import normalize_user_code
from oauth_device.errors import GrantAlreadyResolved, GrantUnknown
from oauth_device.selectors import device_grant_for_account, seconds_left
from oauth_device.serializers import USER_CODE_MAX


def _account(request: HttpRequest) -> Account:
    user = request.user
    assert isinstance(user, Account)  # LoginRequiredMixin ran first
    return user


def result_page(
    request: HttpRequest, outcome: str, *, status: int = 200, **context: Any
) -> HttpResponse:
    context.setdefault("ttl_minutes", max(1, settings.DEVICE_CODE_TTL_SECONDS // 60))
    return render(request, "device/result.html", {"outcome": outcome, **context}, status=status)


def rate_limited_page(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    minutes = max(1, (exc.retry_after + 59) // 60)
    response = render(
        request,
        "device/rate_limited.html",
        {"retry_after": exc.retry_after, "minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


def outcome_page(
    request: HttpRequest, exc: RateLimited | GrantUnknown | GrantAlreadyResolved
) -> HttpResponse:
    """The page for a code that cannot be shown or decided: limited, unknown or already decided."""
    if isinstance(exc, RateLimited):
        return rate_limited_page(request, exc)
    if isinstance(exc, GrantAlreadyResolved):
        return result_page(request, "resolved", status=409, decision=exc.status)
    return result_page(request, "unknown", status=404)


@method_decorator(never_cache, name="dispatch")
class DeviceEntryPage(LoginRequiredMixin, View):
    """GET: the code form (pre-filled from ``?user_code=``). POST: the confirmation page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        raw = request.GET.get("user_code", "")
        prefill = normalize_user_code(raw) or raw.strip()[:USER_CODE_MAX]
        return render(request, "device/entry.html", {"user_code": prefill})

    def post(self, request: HttpRequest) -> HttpResponse:
        raw = request.POST.get("user_code", "").strip()
        if not raw:
            return render(
                request,
                "device/entry.html",
                {"user_code": "", "error": "Enter the code shown in your terminal."},
            )
        account = _account(request)
        try:
            grant = limits.code_attempt(
                account,
                client_ip(request),
                lambda: device_grant_for_account(raw[:USER_CODE_MAX], account),
            )
        except (RateLimited, GrantUnknown, GrantAlreadyResolved) as exc:
            return outcome_page(request, exc)
        except LimiterUnavailable as exc:
            return limiter_unavailable_page(request, exc)
        now = timezone.now()
        return render(
            request,
            "device/confirm.html",
            {
                "grant": grant,
                "just_now": (now - grant.created_at).total_seconds() < 60,
                "expires_in_minutes": max(1, (seconds_left(grant, now) + 59) // 60),
            },
        )


@method_decorator(never_cache, name="dispatch")
class DeviceDecisionPage(LoginRequiredMixin, View):
    """POST from the confirmation page's Approve or Deny button."""

    http_method_names = ["post"]
    approve = True

    def post(self, request: HttpRequest) -> HttpResponse:
        service = services.device_grant_approve if self.approve else services.device_grant_deny
        try:
            grant = service(
                user_code=request.POST.get("user_code", "")[:USER_CODE_MAX],
                account=_account(request),
                ip=client_ip(request),
            )
        except (RateLimited, GrantUnknown, GrantAlreadyResolved) as exc:
            return outcome_page(request, exc)
        except LimiterUnavailable as exc:
            return limiter_unavailable_page(request, exc)
        return result_page(request, "approved" if self.approve else "denied", grant=grant)


class LoginPage(auth_views.LoginView):
    """The account login; on the way to ``/device`` it also offers each enabled identity
    provider ("Continue with <provider>", the device flow's SSO branch) with the code pre-filled."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        target = urlsplit(str(context.get("next") or ""))
        if target.path == reverse("device"):
            raw = (parse_qs(target.query).get("user_code") or [""])[0]
            context["sso_providers"] = identity_providers_enabled()
            context["sso_user_code"] = normalize_user_code(raw) or raw.strip()[:USER_CODE_MAX]
        return context
