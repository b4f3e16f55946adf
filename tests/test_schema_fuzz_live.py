"""Schema fuzzing against a live daphne process (the in-process run is ``test_schema_fuzz.py``).

A real ASGI server, so the SSE routes, the ASGI body limit and the Channels router answer too. Each
generated request carries a fresh bearer token (revoking one ends nothing), every request has a
timeout and the whole run a wall-clock budget (``LIVE_FUZZ_SECONDS``), so it stays well under a
minute per backend. No answer may be a 5xx, use an undocumented status or content type, or
violate the documented response schema.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import servers

BUDGET_SECONDS = float(os.environ.get("LIVE_FUZZ_SECONDS", "25"))
EXAMPLES_PER_OPERATION = 6
REQUEST_TIMEOUT = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_daphne(transactional_db):
    """A production-like daphne (TESTING and DEBUG off, rate limits off) on this test's database
    (its rows are committed: transactional_db)."""
    with servers(
        1,
        TESTING="0",
        DEBUG="0",
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
        OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE="0",
    ) as (server,):
        yield server.base


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
