"""Schema fuzzing against a live daphne process (the in-process run is ``test_schema_fuzz.py``).

A real ASGI server, so the SSE routes, the ASGI body limit and the Channels router answer too. Each
generated request carries a fresh bearer token (revoking one ends nothing), every request has a
timeout and the whole run a wall-clock budget (``LIVE_FUZZ_SECONDS``), so it stays well under a
minute per backend. No answer may be a 5xx, use an undocumented status or content type, or
violate the documented response schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from django.db import connection
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = float(os.environ.get("LIVE_FUZZ_SECONDS", "25"))
EXAMPLES_PER_OPERATION = 6
REQUEST_TIMEOUT = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _database_env() -> dict[str, str]:
    """Point the server at this test's database (its rows are committed: transactional_db)."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return {"DATABASE_URL": f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{name}"}
    return {"SQLITE_PATH": str(name), "DATABASE_URL": ""}


@pytest.fixture
def live_daphne(transactional_db, settings):
    port = free_port()
    env = {
        **os.environ,
        **_database_env(),
        "SECRET_KEY": "live-fuzz-secret",
        "DEBUG": "0",
        "OPENAPI_RATE_LIMIT_PER_TOKEN": "0",
        "OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_KEY_PREFIX": settings.RATE_LIMIT_KEY_PREFIX,
        "LOG_LEVEL": "ERROR",
    }
    env.pop("TESTING", None)
    if not env["DATABASE_URL"]:
        env.pop("DATABASE_URL")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                if httpx.get(base + "/openapi/v1/_health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "daphne did not start within 30 s"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.usefixtures("bob")
def test_live_server_conforms_to_its_schema(live_daphne, alice, token_for):
    schema = schemathesis.openapi.from_url(live_daphne + "/openapi/v1/schema")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10
    started = time.monotonic()
    called: dict[str, int] = {}

    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            break

        label = operation.label

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            if time.monotonic() - started > BUDGET_SECONDS:
                return
            token = token_for(alice)  # fresh: revoking it ends nothing
            case.call_and_validate(
                base_url=live_daphne,
                headers={"Authorization": f"Bearer {token}"},
                checks=CHECKS,
                timeout=REQUEST_TIMEOUT,
            )
            called[label] = called.get(label, 0) + 1  # fuzz() runs within this iteration

        fuzz()
    # The budget must leave room for a real run: most operations were exercised.
    elapsed = time.monotonic() - started
    print(f"live fuzz: {sum(called.values())} requests, {len(called)}/{len(operations)} operations")
    print(f"live fuzz: {elapsed:.0f} s of a {BUDGET_SECONDS:.0f} s budget")
    assert len(called) >= len(operations) // 2, sorted(called)
