"""Helpers for the device-flow tests: start a login, poll, act as a signed-in browser, move time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.test import Client

CODE_URL = "/openapi/v1/oauth/device/code"
TOKEN_URL = "/openapi/v1/oauth/device/token"
LOOKUP_URL = "/openapi/v1/oauth/device/lookup"
APPROVE_URL = "/openapi/v1/oauth/device/approve"
DENY_URL = "/openapi/v1/oauth/device/deny"
PASSWORD = "pw-123456789"  # the root conftest's make_account default


def start(
    client: Client, *, label: str = "difyctl on laptop", client_id: str = "difyctl", **extra: Any
) -> dict[str, Any]:
    response = client.post(
        CODE_URL,
        {"client_id": client_id, "device_label": label},
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 200, response.content
    return response.json()


def poll(client: Client, device_code: str, *, client_id: str = "difyctl", **extra: Any) -> Any:
    return client.post(
        TOKEN_URL,
        {"client_id": client_id, "device_code": device_code},
        content_type="application/json",
        **extra,
    )


def poll_error(client: Client, device_code: str, **kwargs: Any) -> dict[str, Any]:
    response = poll(client, device_code, **kwargs)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


class Browser:
    """A signed-in browser session that sends Django's CSRF header like the e2e harness."""

    def __init__(self, account: Any) -> None:
        self.account = account
        self.client = Client(enforce_csrf_checks=True)
        self.client.force_login(account)
        self.client.get("/device")  # sets the csrftoken cookie
        self.csrf = self.client.cookies["csrftoken"].value

    def post(self, url: str, body: dict[str, Any], *, csrf: bool = True, **extra: Any) -> Any:
        if csrf:
            extra["HTTP_X_CSRFTOKEN"] = self.csrf
        return self.client.post(url, body, content_type="application/json", **extra)

    def approve(self, user_code: str, **kwargs: Any) -> Any:
        return self.post(APPROVE_URL, {"user_code": user_code}, **kwargs)

    def deny(self, user_code: str, **kwargs: Any) -> Any:
        return self.post(DENY_URL, {"user_code": user_code}, **kwargs)

    def page(self, path: str, data: dict[str, str] | None = None) -> Any:
        """POST a page form with the CSRF field, as the browser's form would."""
        return self.client.post(path, {**(data or {}), "csrfmiddlewaretoken": self.csrf})


@dataclass
class Clock:
    """Moves ``django.utils.timezone.now`` (the one clock every expiry decision reads)."""

    offset: timedelta = timedelta(0)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
