"""Password guessing on the login forms (``/accounts/login/``, ``/admin/login/``) is throttled.

Every POST is counted before the password is checked, per account (every spelling the form would
sign in to it: fullwidth, mathematical letters, any case) and per client IP (increment-first, so
parallel guesses in several processes cannot pass together). Past either limit the form is not
even looked at: a 429 page says how long to wait, so a correct password during the lockout does
not get in. A successful login gives its count back, so only failures use up the budget. The
counters guard a secret: while the cache is down the form answers 503.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from accounts.audit import Actor, audit_record
from config.api import ratelimit
from config.api.client_ip import client_ip
from config.identity import identity_key
from config.limit_pages import limiter_unavailable_page

View = Callable[..., HttpResponseBase]
NAME_MAX = 254  # the login form's own limit on the account name


def account_key(submitted: str) -> str:
    """The per-account limit's key for a submitted account name: the account whose password the
    form would check, found exactly as the form and the backend find it (NFKC, then the
    database's case-insensitive match, which on PostgreSQL also takes a dotless i, U+0131, for
    an ``i``); for a name that is no account, its one spelling (``identity_key``). Either way
    every look-alike spelling of an account shares its budget."""
    name = unicodedata.normalize("NFKC", submitted.strip())
    if name and len(name) <= NAME_MAX:
        try:
            account = get_user_model()._default_manager.get_by_natural_key(name)
        except ObjectDoesNotExist:
            pass
        else:
            return f"account:{account.pk}"
    return identity_key(submitted)[:NAME_MAX]


def _windows(username: str, ip: str) -> list[tuple[str, str, int]]:
    return [
        ("login-account", account_key(username), settings.LOGIN_FAILURES_PER_ACCOUNT),
        ("login-ip", ip, settings.LOGIN_FAILURES_PER_IP),
    ]


def login_throttled(view: View) -> View:
    """Wrap a login view so its POSTs go through the per-account and per-IP limits."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        submitted = str(request.POST.get("username", ""))
        username = identity_key(submitted)[:NAME_MAX]  # as recorded in the audit
        ip = client_ip(request)
        window = settings.LOGIN_FAILURE_WINDOW_SECONDS
        counted: list[tuple[str, str]] = []
        waits: list[int] = []
        tripped = False
        try:
            for scope, key, limit in _windows(submitted, ip):
                count, wait = ratelimit.hit_count(
                    scope, key, limit=limit, window=window, fail_open=False
                )
                counted.append((scope, key))
                if wait is not None:
                    waits.append(wait)
                    tripped = tripped or count == limit + 1
        except ratelimit.LimiterUnavailable as exc:
            return limiter_unavailable_page(request, exc)
        if waits:
            if tripped:  # one record per lockout, not one per refused guess
                audit_record(
                    "login.locked_out",
                    actor=Actor("anonymous", username),
                    ip=ip,
                    path=request.path,
                    retry_after=max(waits),
                )
            return locked_page(request, max(waits))
        response = view(request, *args, **kwargs)
        user = getattr(request, "user", None)
        if response.status_code in (301, 302, 303) and user is not None and user.is_authenticated:
            for scope, key in counted:
                ratelimit.refund(scope, key, window=window)
        return response

    return wrapped


def locked_page(request: HttpRequest, retry_after: int) -> HttpResponse:
    minutes = max(1, (retry_after + 59) // 60)
    response = render(
        request,
        "registration/login_locked.html",
        {"retry_after": retry_after, "minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
