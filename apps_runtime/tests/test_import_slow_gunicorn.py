"""Slow ``yaml-url`` imports under serve-prod's gunicorn workers (issue 16 item 5).

Several concurrent imports from a server that drips one byte at a time, more than there are
workers: each ends at the outbound deadline as a ``failed`` import (400, JSON, with the reason
and its row), no worker is killed, and a request sent meanwhile is answered normally once a
worker is free (at the latest one deadline later per round of imports ahead of it).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from apps_runtime.models import AppImport
from tests.drip import dripping_server
from tests.servers import servers

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]

DEADLINE = 1
IMPORTS = 3  # the test servers run 2 sync workers


def test_concurrent_slow_imports_fail_at_the_deadline_and_others_are_answered(
    acme, alice, token_for
):
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    path = f"/openapi/v1/workspaces/{acme.id}/apps/imports"
    results: list[tuple[int, str, dict, float]] = []
    with (
        dripping_server(every=0.3, lasts=20) as drip,
        servers(
            1,
            wsgi=True,
            OUTBOUND_DEADLINE_SECONDS=str(DEADLINE),
            HTTP_NODE_ALLOWED_HOSTS="127.0.0.1",
            OPENAPI_RATE_LIMIT_PER_TOKEN="0",
            OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE="0",
        ) as (server,),
    ):

        def slow_import(index: int) -> None:
            started = time.monotonic()
            response = httpx.post(
                server.base + path,
                headers=headers,
                json={"mode": "yaml-url", "yaml_url": f"{drip.base}/app-{index}.yml"},
                timeout=30,
            )
            results.append(
                (
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.json(),
                    time.monotonic() - started,
                )
            )

        threads = [threading.Thread(target=slow_import, args=(i,)) for i in range(IMPORTS)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        other = httpx.get(server.base + "/openapi/v1/account", headers=headers, timeout=30)
        other_took = time.monotonic() - started
        for thread in threads:
            thread.join(timeout=30)
        log = "".join(server.log)

    assert other.status_code == 200 and other.json()["subject_email"] == "alice@example.com"
    assert other_took < 2 * DEADLINE + 1.5, other_took
    assert len(results) == IMPORTS
    for status, content_type, body, took in results:
        assert status == 400 and content_type.startswith("application/json")
        assert body["status"] == "failed"
        assert f"did not complete within {DEADLINE} seconds" in body["error"]
        assert took < 2 * DEADLINE + 1.5, took
    assert AppImport.objects.filter(status="failed", source="yaml-url").count() == IMPORTS
    assert "WORKER TIMEOUT" not in log
