"""Killed database connections cost no request an error (issue 8 §7, security 29).

The server's pool checks each connection as it hands it out, and serve-prod's WSGI workers check
their persistent connections at the start of each request (config/postgres/base.py), so after
``pg_terminate_backend`` the next requests get fresh connections instead of 500s.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from django.db import connection

from tests.concurrency import race
from tests.servers import servers

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]


def _terminate_server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("wsgi", [False, True], ids=["daphne-pool", "gunicorn-persistent"])
def test_requests_after_killed_connections_all_succeed(alice, token_for, wsgi):
    token = token_for(alice)
    headers = {"Authorization": f"Bearer {token}"}
    with servers(
        1, wsgi=wsgi, OPENAPI_RATE_LIMIT_PER_TOKEN="0", OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE="0"
    ) as (server,):
        statuses: list[int] = []

        def burst(index: int) -> None:
            with httpx.Client(base_url=server.base, headers=headers, timeout=20) as http:
                for path in (
                    "/openapi/v1/account",
                    "/openapi/v1/workspaces",
                    "/openapi/v1/account",
                ):
                    statuses.append(http.get(path).status_code)

        assert not race(6, burst)  # the pool now holds several open connections
        assert set(statuses) == {200}
        for _ in range(2):
            statuses.clear()
            assert _terminate_server_connections() >= 1
            assert not race(6, burst)
            assert Counter(statuses) == {200: 18}, Counter(statuses)
        # One client alone meets every dead connection in turn: still no error, no long wait.
        statuses.clear()
        assert _terminate_server_connections() >= 1
        burst(0)
        assert Counter(statuses) == {200: 3}, Counter(statuses)


def test_this_process_recovers_too(alice, token_for, api):
    """The test process's own pool (several idle connections, all killed) serves the next one."""
    from tests.concurrency import race as in_threads

    def touch(index: int) -> None:
        from accounts.models import Account

        Account.objects.count()

    assert not in_threads(6, touch)
    assert _terminate_server_connections() >= 1
    token = token_for(alice)
    assert api(token).get("/openapi/v1/account").status_code == 200
    assert not in_threads(6, touch)
