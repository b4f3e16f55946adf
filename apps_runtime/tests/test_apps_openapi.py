"""The OpenAPI document of the app endpoints: seed component names and documented errors."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

OPERATIONS = {
    "/openapi/v1/apps": {"200", "401", "403", "422", "429"},
    "/openapi/v1/apps/{app_id}/describe": {"200", "401", "403", "404", "409", "422", "429"},
    "/openapi/v1/apps/{app_id}": {"200", "401", "403", "404", "409", "422", "429"},
    "/openapi/v1/permitted-external-apps": {"200", "401", "403", "422", "429"},
    "/openapi/v1/permitted-external-apps/{app_id}": {"200", "401", "403", "404", "422", "429"},
    "/openapi/v1/permitted-external-apps/{app_id}/describe": {
        "200",
        "401",
        "403",
        "404",
        "422",
        "429",
    },
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_seed_component_names(schema):
    components = schema["components"]["schemas"]
    for name in (
        "AppListResponse",
        "AppListRow",
        "AppDescribeResponse",
        "AppDescribeInfo",
        "TagItem",
        "PermittedExternalAppsListResponse",
    ):
        assert name in components, name
    assert set(components["AppListRow"]["properties"]) == {
        "id",
        "name",
        "description",
        "mode",
        "tags",
        "updated_at",
        "created_by_name",
        "workspace_id",
        "workspace_name",
    }
    assert set(components["AppDescribeResponse"]["properties"]) == {
        "info",
        "parameters",
        "input_schema",
    }


@pytest.mark.parametrize(("path", "statuses"), OPERATIONS.items())
def test_operations_document_their_errors(schema, path, statuses):
    operation = schema["paths"][path]["get"]
    assert set(operation["responses"]) == statuses
    assert operation["security"]


def test_query_parameters_are_documented(schema):
    names = {p["name"] for p in schema["paths"]["/openapi/v1/apps"]["get"]["parameters"]}
    assert names == {"workspace_id", "page", "limit", "mode", "name", "tag"}
    describe = schema["paths"]["/openapi/v1/apps/{app_id}/describe"]["get"]["parameters"]
    assert {p["name"] for p in describe} == {"app_id", "fields", "workspace_id"}
    external = schema["paths"]["/openapi/v1/permitted-external-apps"]["get"]["parameters"]
    assert {p["name"] for p in external} == {"page", "limit", "mode", "name"}
