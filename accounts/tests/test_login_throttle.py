"""Password guessing on both login forms is throttled per account and per IP (issue 8 §3)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import Account, AuditEvent
from conftest import TEST_PASSWORD
from tests.concurrency import race
from tests.servers import servers

FORMS = ["/accounts/login/", "/admin/login/"]
CSRF = "c" * 32
DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


@pytest.fixture
def staff(make_account) -> Account:
    account = make_account("ops@example.com")
    account.is_staff = True
    account.save()
    return account


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch):
    """Move ``timezone.now`` forward by the given seconds (the clock the limits read)."""
    offset = [timedelta(0)]
    real_now = timezone.now

    def now() -> datetime:
        return real_now() + offset[0]

    monkeypatch.setattr("django.utils.timezone.now", now)

    def advance(seconds: float) -> None:
        offset[0] += timedelta(seconds=seconds)

    return advance


def login(client: Client, url: str, email: str, password: str, **extra):
    return client.post(url, {"username": email, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", FORMS)
def test_the_account_is_locked_after_its_failures_even_for_the_right_password(
    url, staff, settings, later
):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 600
    client = Client()
    for _ in range(3):
        assert login(client, url, staff.email, "wrong").status_code == 200
    locked = login(client, url, staff.email, TEST_PASSWORD)
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 600
    assert b"Too many sign-in attempts" in locked.content
    assert b"try again in about" in locked.content
    assert not signed_in(client)
    # The same account from another IP is locked too; other accounts are not.
    assert (
        login(Client(REMOTE_ADDR="198.51.100.9"), url, staff.email, TEST_PASSWORD).status_code
        == 429
    )
    events = AuditEvent.objects.filter(action="login.locked_out")
    assert [(e.actor_email, e.details["path"]) for e in events] == [(staff.email, url)]
    # When the window has passed, the right password gets in.
    later(600)
    assert login(client, url, staff.email, TEST_PASSWORD).status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize("url", FORMS)
def test_an_ip_is_locked_after_its_failures_across_accounts(url, staff, make_account, settings):
    settings.LOGIN_FAILURES_PER_IP = 4
    client = Client()
    for index in range(4):
        assert login(client, url, f"guess{index}@example.com", "wrong").status_code == 200
    assert login(client, url, staff.email, TEST_PASSWORD).status_code == 429
    assert not signed_in(client)
    other_ip = Client(REMOTE_ADDR="203.0.113.5")
    assert login(other_ip, url, staff.email, TEST_PASSWORD).status_code == 302


# Spellings of ops@example.com that the login form accepts for it (NFKC, then any case).
LOOK_ALIKES = [
    "\uff4f\uff50\uff53@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d",  # fullwidth
    "\U0001d428\U0001d429\U0001d42c@example.com",  # mathematical bold
    "\U0001d4f8\U0001d4f9\U0001d4fc@example.com",  # mathematical bold script
    "OPS@Example.COM",
    "\uff2f\uff30\uff33@EXAMPLE.com",  # fullwidth capitals
    "\u24deps@example.com",  # circled small o
    "\u1d3c\u1d3e\u02e2@example.com",  # modifier letters
    "\u3000ops@example.com\u2003",  # ideographic and em spaces around
    "\uff4fps@example.c\u1d52m",  # fullwidth o, modifier small o
]


@pytest.mark.parametrize("url", FORMS)
def test_look_alike_spellings_share_the_accounts_budget(url, staff, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    settings.LOGIN_FAILURES_PER_IP = 100
    for attempt in range(2):
        assert login(Client(), url, staff.email, "wrong").status_code == 200
    for index, spelling in enumerate(LOOK_ALIKES):
        client = Client(REMOTE_ADDR=f"198.51.100.{index + 20}")
        response = login(client, url, spelling, TEST_PASSWORD)
        assert response.status_code == 429, (spelling, response.status_code)
        assert not signed_in(client)


def test_failures_in_several_spellings_lock_the_account(staff, settings):
    url = "/accounts/login/"
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_IP = 100
    for index, spelling in enumerate(LOOK_ALIKES[:3]):
        client = Client(REMOTE_ADDR=f"203.0.113.{index + 40}")
        assert login(client, url, spelling, "wrong").status_code == 200
    client = Client(REMOTE_ADDR="203.0.113.99")
    assert login(client, url, "\U0001d5c8ps@example.com", TEST_PASSWORD).status_code == 429
    assert login(client, url, staff.email, TEST_PASSWORD).status_code == 429
    assert not signed_in(client)


def test_a_spelling_only_the_database_equates_shares_the_budget(make_account, settings):
    """PostgreSQL's case-insensitive match takes a dotless i (U+0131) for an i: the limit follows
    the account the form would sign in to, not a spelling rule of its own."""
    from django.db import connection

    account = make_account("mia@example.com")
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1
    assert login(Client(), "/accounts/login/", account.email, "wrong").status_code == 200
    client = Client(REMOTE_ADDR="198.51.100.77")
    response = login(client, "/accounts/login/", "M\u0131A@example.com", TEST_PASSWORD)
    assert not signed_in(client)
    if connection.vendor == "postgresql":  # elsewhere that spelling is no account at all
        assert response.status_code == 429


def test_successful_logins_do_not_use_up_the_budget(staff, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1
    for _ in range(3):
        client = Client()
        assert login(client, "/accounts/login/", staff.email, TEST_PASSWORD).status_code == 302
    assert login(Client(), "/accounts/login/", staff.email, "wrong").status_code == 200
    assert login(Client(), "/accounts/login/", staff.email, TEST_PASSWORD).status_code == 429


@pytest.mark.parametrize("url", FORMS)
def test_login_fails_closed_without_the_cache(url, staff, settings):
    settings.RATE_LIMIT_OUTAGE_RETRY_AFTER_SECONDS = 11
    client = Client()
    with override_settings(CACHES=DEAD_REDIS):
        response = login(client, url, staff.email, TEST_PASSWORD)
    assert response.status_code == 503 and response["Retry-After"] == "11"
    assert b"Temporarily unavailable" in response.content
    assert not signed_in(client)


@pytest.mark.shared_services
@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_on_two_processes_stop_at_the_limit(staff):
    limit = 3
    with servers(2, LOGIN_FAILURES_PER_ACCOUNT=str(limit), LOGIN_FAILURES_PER_IP="1000") as running:
        statuses: list[int] = []

        def guess(index: int) -> None:
            base = running[index % 2].base
            with httpx.Client(base_url=base, cookies={"csrftoken": CSRF}, timeout=20) as http:
                response = http.post(
                    "/accounts/login/",
                    data={
                        "username": staff.email,
                        "password": "wrong",
                        "csrfmiddlewaretoken": CSRF,
                    },
                )
                statuses.append(response.status_code)

        assert not race(4 * limit, guess)
    assert Counter(statuses) == {200: limit, 429: 3 * limit}, Counter(statuses)
