"""Property-based run of the whole API against its own OpenAPI document (security requirement 30).

Schemathesis generates requests from ``/openapi/v1/schema`` and the app answers in-process: no
response may be a 5xx, use an undocumented status, or violate the documented response schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from apps_runtime.runs.schema import SSE_PATHS
from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/openapi/v1/schema", application)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Requests go straight to the WSGI app, not through Django's test client, so its
    ``close_old_connections`` signal handlers would close the test transaction's connection
    (with PostgreSQL's pool: "Cannot open a new connection in an atomic block"). Django's test
    client disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(alice, bob, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    settings.OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE = 0
    return token_for(alice, label="fuzz")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, fuzz_token):
    # Revoking the fuzzing token would end the run early; those routes have their own tests.
    if case.path in SSE_PATHS:
        pytest.skip("SSE endpoints are Channels consumers: WSGI cannot serve them (ASGI tests)")
    if case.path.startswith("/openapi/v1/account/sessions") and case.method == "DELETE":
        pytest.skip("revocation is covered by accounts/tests/test_sessions.py")
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_token}"}, checks=CHECKS)
