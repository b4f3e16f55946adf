"""Deeply nested JSON is a 400 envelope on every JSON route, never a 500 (issue 8 §4)."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from config.api.parsers import json_loads_bounded
from conftest import assert_envelope

DEPTH_LIMIT = 8
DEVICE_ROUTES = [
    "/openapi/v1/oauth/device/code",
    "/openapi/v1/oauth/device/token",
    "/openapi/v1/oauth/device/approve",
    "/openapi/v1/oauth/device/deny",
]


def nested(depth: int, *, shape: str) -> str:
    if shape == "objects":
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


BODIES = {
    "just-past-the-limit-objects": nested(DEPTH_LIMIT + 1, shape="objects"),
    "just-past-the-limit-lists": nested(DEPTH_LIMIT + 1, shape="lists"),
    "past-python-recursion": nested(5000, shape="objects"),
    "inside-a-field": json.dumps({"client_id": "difyctl"})[:-1]
    + ', "device_label": '
    + nested(3 * DEPTH_LIMIT, shape="lists")
    + "}",
}


@pytest.fixture(autouse=True)
def low_depth(settings):
    settings.MAX_JSON_DEPTH = DEPTH_LIMIT


def _json_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in {"post", "put", "patch", "delete"}:
                found.append((method, path))
    return found


@pytest.fixture
def signed_in_browser(alice) -> Client:
    browser = Client()
    browser.force_login(alice)
    return browser


@pytest.mark.parametrize("body", BODIES.values(), ids=list(BODIES))
@pytest.mark.parametrize("url", DEVICE_ROUTES)
def test_device_routes_answer_400(url, body, signed_in_browser, caplog):
    with caplog.at_level(logging.ERROR):
        response = signed_in_browser.post(url, body, content_type="application/json")
    envelope = assert_envelope(response, 400, code="bad_request")
    assert f"nested deeper than {DEPTH_LIMIT} levels" in envelope["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_every_json_route_refuses_deep_nesting_without_a_500(
    signed_in_browser, alice, token_for, caplog
):
    token = token_for(alice)
    operations = _json_operations()
    assert len(operations) >= len(DEVICE_ROUTES)
    for method, template in operations:
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
        for body in BODIES.values():
            with caplog.at_level(logging.ERROR):
                response = getattr(signed_in_browser, method)(
                    path,
                    body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                )
            assert response.status_code < 500, (method, path, response.content[:200])
            assert response["Content-Type"].startswith("application/json"), (method, path)
            if response.status_code == 400:
                assert "nested deeper than" in response.json()["message"], (method, path)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_parser_bounds_depth_not_width(settings):
    wide = json.dumps({"items": [[1, 2]] * 10_000})
    assert len(json_loads_bounded(wide)["items"]) == 10_000
    assert json_loads_bounded(nested(DEPTH_LIMIT, shape="lists")) == json.loads(
        nested(DEPTH_LIMIT, shape="lists")
    )


@pytest.mark.parametrize("depth", [DEPTH_LIMIT + 1, 5000])
def test_the_run_endpoint_refuses_deep_nesting(acme, alice, token_for, depth):
    """The run consumer parses its own body (not DRF): same bound, same 400 envelope."""
    from apps_runtime.runs.models import Run
    from apps_runtime.runs.tests.helpers import assert_error, run_path, sse_call
    from apps_runtime.tests.factories import make_workflow_app, start_variable

    app = make_workflow_app(acme, variables=[start_variable("x")])
    raw = ('{"inputs": {"x": ' + nested(depth, shape="lists") + "}}").encode()
    response = sse_call("POST", run_path(app), token=token_for(alice), raw=raw)
    assert_error(response, 400)
    assert f"nested deeper than {DEPTH_LIMIT} levels" in response.json()["message"]
    assert not Run.objects.exists()
