"""Store outages answered as outages (issue 16 §8c, §8d; decisions 16-faults).

A database that cannot be reached (a PostgreSQL shutdown window; here the test's own connection
pointed at a closed port, or SQLite at a path that cannot be opened) is a 503 with Retry-After on
the JSON API, the pages and the SSE routes, logged as one warning per interval; a cache outage on
a limit that fails closed is a 503 logged the same way, never a traceback per request.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client, override_settings

from apps_runtime.runs.tests.helpers import assert_error, sse_call
from config import outage
from conftest import assert_envelope
from tests.servers import free_port
from tests.test_cache_outage import DEAD_REDIS


@contextmanager
def database_down():
    """This process's connections go to a database that is not there, then come back."""
    saved = connection.settings_dict.copy()
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()
        connection.settings_dict["PORT"] = str(free_port())
        options = dict(saved.get("OPTIONS") or {})
        options["pool"] = {**options.get("pool", {}), "min_size": 0, "timeout": 0.5}
        connection.settings_dict["OPTIONS"] = options
    else:
        connection.settings_dict["NAME"] = f"/nonexistent-{uuid.uuid4().hex}/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        if connection.vendor == "postgresql":
            connection.close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def _no_tracebacks(caplog):
    return [r for r in caplog.records if r.exc_info or "unhandled error" in r.getMessage()]


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_a_503_with_retry_after_everywhere(alice, token_for, api, caplog):
    token = token_for(alice)
    page_client = Client(raise_request_exception=False)
    page_client.force_login(alice)
    outage.reset()
    with override_settings(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS=9), database_down():
        with caplog.at_level("WARNING"):
            for path in ("/openapi/v1/account", "/openapi/v1/workspaces"):
                response = api(token).get(path)
                body = assert_envelope(response, 503, code="service_unavailable")
                assert response["Retry-After"] == "9" and body["retry_after"] == 9
            page = page_client.get("/device")
            assert page.status_code == 503 and page["Retry-After"] == "9"
            assert b"Temporarily unavailable" in page.content
            stream = sse_call("POST", f"/openapi/v1/apps/{uuid.uuid4()}/run", token=token, body={})
            payload = assert_error(stream, 503, code="service_unavailable")
            assert stream.headers["retry-after"] == "9" and payload["retry_after"] == 9
    assert not _no_tracebacks(caplog)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no line per request
    warnings = [r for r in caplog.records if "database is unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per interval, not once per request
    assert api(token).get("/openapi/v1/account").status_code == 200  # back


def test_a_cache_outage_logs_once_and_never_a_traceback(db, client, caplog):
    outage.reset()
    warned = []
    with override_settings(CACHES=DEAD_REDIS), caplog.at_level("WARNING"):
        for _ in range(2):
            for _ in range(3):
                response = client.get("/openapi/v1/oauth/device/lookup", {"user_code": "ABCD-EFGH"})
                assert_envelope(response, 503, code="service_unavailable")
                assert int(response["Retry-After"]) >= 1
            warned.append(len([r for r in caplog.records if "unavailable" in r.getMessage()]))
    assert not _no_tracebacks(caplog)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert warned[0] >= 1 and warned[1] == warned[0]  # the first failure, then nothing more
