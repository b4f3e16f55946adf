"""The device operations are documented with their components and error statuses."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_component_names(schema):
    components = set(schema["components"]["schemas"])
    for name in (
        "DeviceCodeRequest",
        "DeviceCodeResponse",
        "DevicePollRequest",
        "DeviceLookupResponse",
        "DeviceMutateRequest",
        "DeviceMutateResponse",
        "DeviceTokenResponse",
    ):
        assert name in components, name


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/openapi/v1/oauth/device/code", "post", {"200", "400", "429"}),
        ("/openapi/v1/oauth/device/token", "post", {"200", "400"}),
        ("/openapi/v1/oauth/device/lookup", "get", {"200", "400", "429"}),
        (
            "/openapi/v1/oauth/device/approve",
            "post",
            {"200", "400", "401", "403", "404", "409", "429"},
        ),
        (
            "/openapi/v1/oauth/device/deny",
            "post",
            {"200", "400", "401", "403", "404", "409", "429"},
        ),
    ],
)
def test_operations_document_their_errors(schema, path, method, statuses):
    operation = schema["paths"][path][method]
    assert statuses <= set(operation["responses"]), operation["responses"].keys()


def test_anonymous_operations_need_no_credentials(schema):
    for path in ("code", "token", "lookup"):
        operations = schema["paths"][f"/openapi/v1/oauth/device/{path}"]
        for operation in operations.values():
            assert operation.get("security") in (None, [], [{}]), operation.get("security")


def test_decisions_need_the_session_cookie_not_a_bearer(schema):
    for path in ("approve", "deny"):
        security = schema["paths"][f"/openapi/v1/oauth/device/{path}"]["post"]["security"]
        assert security == [{"cookieAuth": []}]
