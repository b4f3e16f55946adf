"""The OpenAPI document: served, valid, named after the seed's models, errors documented."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_served_and_valid(client, db):
    response = client.get("/openapi/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    validate_schema(response.json())


def test_docs_page_is_served_without_external_assets(client, db):
    response = client.get("/openapi/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    assert "cdn." not in html and "unpkg" not in html


def test_component_names_follow_the_seed(schema):
    components = set(schema["components"]["schemas"])
    for name in (
        "AccountResponse",
        "AccountPayload",
        "SessionListResponse",
        "SessionRow",
        "RevokeResponse",
        "WorkspaceListResponse",
        "WorkspaceDetailResponse",
        "WorkspaceSummaryResponse",
        "WorkspacePayload",
    ):
        assert name in components, name


def test_every_authenticated_operation_documents_its_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not operation.get("security") or {} in operation["security"]:
                continue
            statuses = set(operation["responses"])
            assert {"401", "403", "429"} <= statuses, (method, path, statuses)


def test_schema_generates_without_warnings(tmp_path, db):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert target.read_text().startswith("openapi:")
