"""Bearer API calls skip the browser middleware; pages, the admin and session API routes keep it."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.authentication import SessionAuthentication

from tests.authz_matrix import django_routes


def test_browser_stack_keeps_what_the_admin_and_csrf_need():
    # These replace the admin/CSRF system checks silenced in settings.
    for path in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ):
        assert path in settings.BROWSER_MIDDLEWARE


def _session_routes() -> set[str]:
    found = set()
    for route in django_routes():
        view_class = getattr(route.callback, "cls", None)
        auth = getattr(view_class, "authentication_classes", []) or []
        if any(issubclass(a, SessionAuthentication) for a in auth):
            found.add(route.template)
    return found


def test_every_api_route_that_reads_a_session_is_listed():
    assert _session_routes() == set(settings.SESSION_API_PATHS)


def test_bearer_api_call_sets_no_cookie_and_keeps_content_length(api, alice, token_for):
    response = api(token_for(alice)).get("/openapi/v1/account")
    assert response.status_code == 200
    assert not response.cookies
    assert response["Content-Length"] == str(len(response.content))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_api_ignores_a_session_cookie(client, alice):
    # A logged-in browser gets no identity on a bearer route from its cookie.
    client.force_login(alice)
    response = client.get("/openapi/v1/account")
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/device", "/accounts/login/"])
def test_pages_still_get_sessions_csrf_and_framing(client, path):
    response = client.get(path, follow=False)
    assert response["X-Frame-Options"] == "DENY"
    if response.status_code == 200:
        assert settings.CSRF_COOKIE_NAME in response.cookies


def test_session_api_route_still_reads_the_session_and_checks_csrf(alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    # Logged in, but no CSRF token: refused with the envelope, not answered as anonymous (401).
    response = browser.post(
        "/openapi/v1/oauth/device/approve",
        data={"user_code": "BCDF-GHJK"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
