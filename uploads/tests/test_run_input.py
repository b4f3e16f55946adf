"""An upload used as a ``local_file`` run input reaches the nodes as a file value (client.md §4.10:
``run app --file key=@path`` uploads, then runs with ``upload_file_id``)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps_runtime.models import App, WorkflowVersion
from apps_runtime.runs.tests.helpers import assert_error, run_path, sse_call
from apps_runtime.tests.factories import AppFactory
from uploads.models import UploadFile

FILE_VARIABLE = {
    "variable": "doc",
    "label": "Document",
    "type": "file",
    "required": True,
    "allowed_file_upload_methods": ["local_file", "remote_url"],
    "allowed_file_types": ["document"],
}


def file_app(workspace) -> App:
    """start(doc: file) → end(doc, name): the file value as the run's output."""
    app = AppFactory(workspace=workspace, mode="workflow", name="File echo")
    graph = {
        "nodes": [
            {
                "id": "start",
                "type": "custom",
                "data": {"type": "start", "title": "Start", "variables": [FILE_VARIABLE]},
            },
            {
                "id": "end",
                "type": "custom",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [
                        {"variable": "doc", "value_selector": ["start", "doc"]},
                        {"variable": "name", "value_selector": ["start", "doc", "name"]},
                    ],
                },
            },
        ],
        "edges": [{"id": "e", "source": "start", "target": "end"}],
    }
    version = WorkflowVersion.objects.create(
        app=app, version="2026-01-01 00:00:00", graph=graph, features={}
    )
    App.objects.filter(pk=app.pk).update(published_workflow=version)
    app.refresh_from_db()
    return app


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def upload(client, app, name="notes.txt", content=b"hello world"):
    response = client.post(
        f"/openapi/v1/apps/{app.id}/files",
        {"file": SimpleUploadedFile(name, content, content_type="text/plain")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_an_upload_used_as_a_run_input_reaches_the_nodes(acme, alice, api, token_for):
    app = file_app(acme)
    token = token_for(alice)
    uploaded = upload(api(token), app)
    response = sse_call(
        "POST",
        run_path(app),
        token=token,
        body={
            "inputs": {
                "doc": {
                    "type": "document",
                    "transfer_method": "local_file",
                    "upload_file_id": uploaded["id"],
                }
            }
        },
        timeout=30,
    )
    assert response.status == 200, response.body[:500]
    finished = next(e for e in response.events if e["event"] == "workflow_finished")
    assert finished["data"]["status"] == "succeeded", finished
    outputs = finished["data"]["outputs"]
    assert outputs["name"] == "notes.txt"
    doc = outputs["doc"]
    assert doc["transfer_method"] == "local_file"
    assert doc["related_id"] == uploaded["id"]
    assert (doc["size"], doc["mime_type"], doc["extension"]) == (11, "text/plain", ".txt")
    # A run took it: housekeeping keeps it.
    assert UploadFile.objects.get(pk=uploaded["id"]).used_at is not None


def test_someone_elses_or_an_unknown_upload_is_a_422_naming_the_input(
    acme, alice, bob, api, token_for
):
    app = file_app(acme)
    uploaded = upload(api(token_for(alice)), app)
    for upload_id in (uploaded["id"], "00000000-0000-0000-0000-000000000000", "nope"):
        response = sse_call(
            "POST",
            run_path(app),
            token=token_for(bob),
            body={
                "inputs": {
                    "doc": {
                        "type": "document",
                        "transfer_method": "local_file",
                        "upload_file_id": upload_id,
                    }
                }
            },
        )
        assert_error(response, 422, code="invalid_param", message="doc: upload file not found")
    assert UploadFile.objects.get(pk=uploaded["id"]).used_at is None
