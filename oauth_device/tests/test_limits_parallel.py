"""Wrong-code limits hold under parallel requests spread over two server processes (issue 8 §6, §8).

Each limit counts before it decides, in the shared Redis, so a burst can never get more attempts
through than the limit, whichever process each request lands on.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from django.test import Client

from tests.concurrency import race
from tests.servers import servers

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]

CSRF = "c" * 32
ACCOUNT_LIMIT = 3
IP_LIMIT = 4


def _session_cookie(account) -> str:
    client = Client()
    client.force_login(account)
    return client.cookies["sessionid"].value


def _burst(bases: list[str], count: int, request, cookies=None) -> Counter[int]:
    statuses: list[int] = []

    def work(index: int) -> None:
        with httpx.Client(base_url=bases[index % len(bases)], timeout=20, cookies=cookies) as http:
            statuses.append(request(http).status_code)

    errors = race(count, work)
    assert not errors, errors
    return Counter(statuses)


def test_parallel_wrong_codes_respect_the_limits_across_processes(alice):
    env = {
        "DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN": str(ACCOUNT_LIMIT),
        "DEVICE_WRONG_CODES_PER_IP_PER_HOUR": str(IP_LIMIT),
        "DEVICE_DECISIONS_PER_ACCOUNT_PER_HOUR": "1000",
        "DEVICE_LOOKUP_PER_IP_PER_5_MIN": "1000",
    }
    with servers(2, **env) as running:
        bases = [server.base for server in running]
        cookies = {"sessionid": _session_cookie(alice), "csrftoken": CSRF}

        # Anonymous lookups of unknown codes: exactly the per-IP allowance is answered.
        lookups = _burst(
            bases,
            4 * IP_LIMIT,
            lambda http: http.get("/openapi/v1/oauth/device/lookup?user_code=ABCD-EFGH"),
        )
        assert lookups == {200: IP_LIMIT, 429: 3 * IP_LIMIT}, lookups

        # The IP is locked for anonymous lookups, but a signed-in account keeps its own budget:
        # it can still approve a real code from the same IP.
        code = httpx.post(
            bases[0] + "/openapi/v1/oauth/device/code",
            json={"client_id": "difyctl", "device_label": "parallel"},
        ).json()["user_code"]
        with httpx.Client(base_url=bases[1], cookies=cookies) as browser:
            approve = browser.post(
                "/openapi/v1/oauth/device/approve",
                json={"user_code": code},
                headers={"X-CSRFToken": CSRF},
            )
        assert approve.status_code == 200, approve.text

        # Parallel wrong codes from one signed-in account: exactly its allowance is tried.
        wrong = _burst(
            bases,
            4 * ACCOUNT_LIMIT,
            lambda http: http.post(
                "/openapi/v1/oauth/device/approve",
                json={"user_code": "BCDE-FGHJ"},
                headers={"X-CSRFToken": CSRF},
            ),
            cookies=cookies,
        )
        assert wrong == {404: ACCOUNT_LIMIT, 429: 3 * ACCOUNT_LIMIT}, wrong
