"""Shared test cast and helpers.

``alice`` owns the workspace ``acme``, ``bob`` is a ``normal`` member of it, ``charlie`` is an
outsider with a workspace of his own. ``token_for`` mints real bearer tokens through the service the
device flow uses, and ``api`` gives an APIClient that sends one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

# The local OpenAI-compatible server (``llm_server``, ``llm_env``) for every test directory.
pytest_plugins = ["tests.llm_server"]

TEST_PASSWORD = "pw-123456789"
SHARED_SERVICES = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_SERVICES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)")
    for item in items:
        if "shared_services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_rate_limits(settings: Any) -> None:
    """A fresh rate-limit key prefix per test: counters never leak; no shared Redis is flushed."""
    settings.RATE_LIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _isolated_event_log(settings: Any) -> Iterator[None]:
    """A fresh event-log key prefix per test (Redis) and a fresh in-process log."""
    from apps_runtime import events

    prefix = settings.EVENT_LOG_KEY_PREFIX = f"test-ev-{uuid.uuid4().hex}"
    events.event_log_reset()
    yield
    used = events._cached[1] if events._cached else None
    events.event_log_reset()
    if used is not None and hasattr(used, "url"):  # Redis: drop only this test's streams
        import redis

        client = redis.Redis.from_url(used.url, socket_timeout=5)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()


@pytest.fixture
def make_account(db: None) -> Callable[..., Any]:
    from accounts.models import Account

    def make(email: str, *, name: str = "", password: str = TEST_PASSWORD) -> Account:
        return Account.objects.create_user(
            email, password, name=name or email.split("@")[0].title()
        )

    return make


@pytest.fixture
def root(make_account: Callable[..., Any]) -> Any:
    """A superuser for the admin."""
    from accounts.models import Account

    return Account.objects.create_superuser("root@example.com", TEST_PASSWORD, name="Root")


@pytest.fixture
def root_client(root: Any) -> Any:
    """A browser session of ``root``, logged in to the admin."""
    from django.test import Client

    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def acme(db: None) -> Any:
    from workspaces.models import Workspace

    return Workspace.objects.create(name="Acme")


@pytest.fixture
def alice(make_account: Callable[..., Any], acme: Any) -> Any:
    from workspaces.models import Membership

    account = make_account("alice@example.com", name="Alice")
    Membership.objects.create(workspace=acme, account=account, role="owner", current=True)
    return account


@pytest.fixture
def bob(make_account: Callable[..., Any], acme: Any) -> Any:
    from workspaces.models import Membership

    account = make_account("bob@example.com", name="Bob")
    Membership.objects.create(workspace=acme, account=account, role="normal")
    return account


@pytest.fixture
def charlie(make_account: Callable[..., Any]) -> Any:
    from workspaces.models import Membership, Workspace

    account = make_account("charlie@example.com", name="Charlie")
    own = Workspace.objects.create(name="Charlie's")
    Membership.objects.create(workspace=own, account=account, role="owner", current=True)
    return account


@pytest.fixture
def token_for(db: None) -> Callable[..., str]:
    from accounts.audit import Actor
    from accounts.services import access_token_mint

    actor = Actor.operator("pytest")

    counter = iter(range(1_000_000))

    def mint(
        account: Any = None,
        *,
        label: str | None = None,
        client_id: str = "difyctl",
        external_email: str | None = None,
        external_issuer: str = "https://idp.example.com",
    ) -> str:
        label = label or f"test device {next(counter)}"
        if account is not None:
            return access_token_mint(
                actor=actor, client_id=client_id, device_label=label, account=account
            ).raw
        return access_token_mint(
            actor=actor,
            client_id=client_id,
            device_label=label,
            external_email=external_email or "sso@partner.example",
            external_issuer=external_issuer,
        ).raw

    return mint


@pytest.fixture
def api() -> Callable[[str | None], APIClient]:
    def client(token: str | None = None) -> APIClient:
        c = APIClient()
        if token:
            c.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return c

    return client


@pytest.fixture
def sso_token(token_for: Callable[..., str]) -> Iterator[str]:
    yield token_for(external_email="sso@partner.example")


def assert_envelope(
    response: Any, status: int, *, code: str | None = None, message: str | None = None
) -> dict[str, Any]:
    """The response is the contract's JSON error envelope with this status (and code/message)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    if message is not None:
        assert body["message"] == message, body
    return body


@pytest.fixture
def superuser_client(db: None) -> Any:
    """A Django test client logged in as a superuser (for the admin)."""
    from django.test import Client

    from accounts.models import Account

    user = Account.objects.create_superuser("root@example.com", TEST_PASSWORD, name="Root")
    client = Client()
    client.force_login(user)
    return client
