"""Slow ``yaml-url`` imports under serve-prod's gunicorn workers (issue 16 item 5).

Several concurrent imports from a server that drips one byte at a time, more than there are
workers: at most ``DSL_IMPORT_URL_CONCURRENCY`` fetch at once, each ending at the outbound
deadline as a ``failed`` import (400, JSON, with the reason and its row); the others answer 429
at once, so no worker is killed and a request sent meanwhile is answered at once.
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
            DSL_IMPORT_URL_CONCURRENCY="1",
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
        first_round = list(results)
        slow_import(IMPORTS)  # the slot was given back: the next import fetches again
        log = "".join(server.log)

    assert other.status_code == 200 and other.json()["subject_email"] == "alice@example.com"
    # (a worker's first request is slow on a busy machine: the bound is loose, the statuses not)
    assert other_took < DEADLINE + 1.5, (other_took, [(r[0], r[3]) for r in results])
    assert len(first_round) == IMPORTS
    fetched = [r for r in first_round if r[0] == 400]
    refused = [r for r in first_round if r[0] == 429]
    assert len(fetched) == 1 and len(refused) == IMPORTS - 1, [r[:3] for r in results]
    for status, content_type, body, took in fetched:
        assert content_type.startswith("application/json")
        assert body["status"] == "failed"
        assert f"did not complete within {DEADLINE} seconds" in body["error"]
        assert took < DEADLINE + 1.5, took
    for status, content_type, body, took in refused:
        assert body["code"] == "too_many_requests" and "yaml-url imports" in body["hint"]
        assert took < DEADLINE + 1.5, took
    assert results[-1][0] == 400 and results[-1][2]["status"] == "failed"
    assert len(drip.connections) == 2
    assert AppImport.objects.filter(status="failed", source="yaml-url").count() == 2
    assert "WORKER TIMEOUT" not in log
