"""The schema declares the constraints the server enforces (issue 8 §10).

Schemathesis generates only requests the schema calls valid (positive data) for the routes whose
inputs the server restricts — ``fields`` values, user codes, client ids — and every one must be
accepted (no "valid request rejected"): a 2xx, or an answer about state (401, 404, 409, 429).
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from schemathesis.generation import GenerationMode

from apps_runtime.serializers import FIELDS_PATTERN
from apps_runtime.tests.factories import make_prompt_app
from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/openapi/v1/schema", application).include(
    path_regex=r"/(oauth/device/(code|lookup|approve|deny)|apps/\{app_id\}/describe)$"
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # As in test_schema_fuzz: the WSGI app must not close the test transaction's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    settings.OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE = 0
    settings.DEVICE_PENDING_PER_IP = 1000
    return token_for(alice, label="constraints")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    derandomize=True,
)
def test_valid_requests_are_accepted(case, fuzz_token):
    if case.meta is not None and case.meta.generation.mode != GenerationMode.POSITIVE:
        return  # negative data is test_schema_fuzz's business
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzz_token}"},
        checks=[not_a_server_error, positive_data_acceptance],
    )


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("info", True),
        (" info , parameters,,input_schema ", True),
        (",info,", True),
        ("infoparameters", False),
        ("info,nope", False),
        ("info parameters", False),
    ],
)
def test_the_fields_pattern_matches_what_the_server_accepts(
    api, alice, acme, token_for, value, valid
):
    app = make_prompt_app(acme, enable_api=True)
    response = api(token_for(alice)).get(f"/openapi/v1/apps/{app.id}/describe", {"fields": value})
    assert bool(re.search(FIELDS_PATTERN, value)) is valid
    assert (response.status_code == 200) is valid, response.content[:300]


def test_the_schema_names_the_client_id_allow_list(client, settings):
    settings.OPENAPI_KNOWN_CLIENT_IDS = ["difyctl", "other-cli"]
    body = client.get("/openapi/v1/schema", HTTP_ACCEPT="application/json").json()
    schemas = body["components"]["schemas"]
    client_id = schemas["DeviceCodeRequest"]["properties"]["client_id"]
    declared = (
        client_id.get("enum") or schemas[client_id["allOf"][0]["$ref"].split("/")[-1]]["enum"]
    )
    assert declared == ["difyctl", "other-cli"]
