"""``POST /openapi/v1/apps/{app_id}/files/upload`` and ``…/files`` (client.md §4.10, §4.15)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AuditEvent
from apps_runtime.tests.factories import make_prompt_app, make_workflow_app
from config.housekeeping import run_once
from conftest import assert_envelope
from tests.asgi_post import asgi_post
from uploads.models import UploadFile
from uploads.services import upload_files_purge_unused

PATHS = ("files/upload", "files")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def app(acme):
    return make_workflow_app(acme)


@pytest.fixture
def owner(alice, api, token_for):
    return api(token_for(alice))


def upload(client, app_id, name="notes.txt", content=b"hello world", content_type="text/plain"):
    return client.post(
        f"/openapi/v1/apps/{app_id}/files/upload",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )


@pytest.mark.parametrize("path", PATHS)
def test_upload_answers_201_with_the_file(path, app, alice, owner):
    response = owner.post(
        f"/openapi/v1/apps/{app.id}/{path}",
        {"file": SimpleUploadedFile("report.PDF", b"%PDF-1.4 data", content_type="x/whatever")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "report.PDF",
        "size": 13,
        "extension": "pdf",
        "mime_type": "application/pdf",
        "created_by": str(alice.id),
        "created_at": body["created_at"],
    }
    stored = UploadFile.objects.get(pk=body["id"])
    assert stored.app == app and stored.used_at is None
    with default_storage.open(stored.storage_key) as handle:
        assert handle.read() == b"%PDF-1.4 data"
    assert "report" not in stored.storage_key  # the client's name never reaches the storage key
    event = AuditEvent.objects.get(action="upload_file.created")
    assert event.details["upload_id"] == body["id"]


def test_a_member_uploads_too_and_names_are_cleaned(app, bob, api, token_for):
    response = upload(api(token_for(bob)), app.id, name="../../etc/pass\x00wd.txt")
    assert response.status_code == 201
    assert response.json()["name"] == "passwd.txt"


def test_over_the_size_limit_is_413(app, owner, settings):
    settings.UPLOAD_MAX_BYTES = 10
    response = upload(owner, app.id, content=b"x" * 11)
    assert_envelope(response, 413, code="file_too_large")
    assert not UploadFile.objects.exists()


def test_declared_length_over_the_limit_is_413_before_parsing(app, owner, settings):
    settings.UPLOAD_MAX_BYTES = 10
    settings.UPLOAD_MULTIPART_OVERHEAD_BYTES = 100
    response = owner.generic(
        "POST",
        f"/openapi/v1/apps/{app.id}/files",
        b"x" * 50,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH="100000",
    )
    assert_envelope(response, 413)


@pytest.mark.parametrize("name", ["script.exe", "noextension", "archive.tar.gz"])
def test_type_outside_the_allowed_list_is_415(name, app, owner):
    assert_envelope(upload(owner, app.id, name=name), 415, code="unsupported_file_type")
    assert not UploadFile.objects.exists()


def test_allowed_types_are_a_setting(app, owner, settings):
    settings.UPLOAD_ALLOWED_EXTENSIONS = ["exe"]
    assert upload(owner, app.id, name="tool.exe").status_code == 201
    assert upload(owner, app.id, name="notes.txt").status_code == 415


def test_missing_or_extra_file_parts_are_422(app, owner):
    url = f"/openapi/v1/apps/{app.id}/files"
    assert_envelope(owner.post(url, {"other": "x"}, format="multipart"), 422)
    two = {
        "file": [
            SimpleUploadedFile("a.txt", b"a", content_type="text/plain"),
            SimpleUploadedFile("b.txt", b"b", content_type="text/plain"),
        ]
    }
    assert_envelope(owner.post(url, two, format="multipart"), 422)
    assert_envelope(upload(owner, app.id, content=b""), 422)
    response = owner.post(url, {"file": "x"}, format="json")
    assert_envelope(response, 415)


def test_outsider_unknown_and_malformed_app_are_404(app, charlie, api, token_for, owner):
    outsider = api(token_for(charlie))
    for path in PATHS:
        assert_envelope(
            outsider.post(
                f"/openapi/v1/apps/{app.id}/{path}",
                {"file": SimpleUploadedFile("a.txt", b"a")},
                format="multipart",
            ),
            404,
        )
    assert_envelope(upload(owner, uuid.uuid4()), 404)
    assert_envelope(upload(owner, "not-a-uuid"), 404)
    assert not UploadFile.objects.exists()


def test_external_sso_is_wrong_surface(app, api, sso_token):
    assert_envelope(upload(api(sso_token), app.id), 403)


def test_service_api_off_follows_describe(acme, owner):
    off = make_prompt_app(acme, enable_api=False)
    assert_envelope(upload(owner, off.id), 404)


def test_unused_uploads_are_purged_after_the_retention(app, owner, settings):
    settings.UPLOAD_RETENTION_SECONDS = 3600
    old = UploadFile.objects.get(pk=upload(owner, app.id).json()["id"])
    used = UploadFile.objects.get(pk=upload(owner, app.id).json()["id"])
    fresh = UploadFile.objects.get(pk=upload(owner, app.id).json()["id"])
    past = timezone.now() - timedelta(seconds=3601)
    UploadFile.objects.filter(pk__in=[old.pk, used.pk]).update(created_at=past)
    UploadFile.objects.filter(pk=used.pk).update(used_at=timezone.now())
    assert run_once()["unused uploads purged"] == 1
    assert set(UploadFile.objects.values_list("pk", flat=True)) == {used.pk, fresh.pk}
    assert not default_storage.exists(old.storage_key)
    assert default_storage.exists(used.storage_key)
    assert upload_files_purge_unused() == 0


# -- the ASGI body guard: the upload routes' own limit ---------------------------------------


def _asgi_post(path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    response = asgi_post(path, headers, chunks)
    return response.status, response.body, response.reads


@pytest.mark.django_db(transaction=True)
def test_asgi_refuses_a_declared_oversize_upload_without_reading_it(app, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    settings.UPLOAD_MULTIPART_OVERHEAD_BYTES = 100
    status, body, reads = _asgi_post(
        f"/openapi/v1/apps/{app.id}/files/upload",
        [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", b"50000")],
        [b"x" * 1000] * 50,
    )
    assert status == 413
    assert json.loads(body)["status"] == 413
    assert reads == 0  # not one chunk of the body was read


@pytest.mark.django_db(transaction=True)
def test_asgi_stops_reading_a_chunked_oversize_upload(app, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    settings.UPLOAD_MULTIPART_OVERHEAD_BYTES = 100
    status, _, reads = _asgi_post(
        f"/openapi/v1/apps/{app.id}/files",
        [(b"content-type", b"multipart/form-data; boundary=x"), (b"transfer-encoding", b"chunked")],
        [b"x" * 500] * 50,
    )
    assert status == 413
    assert reads == 3  # stopped as soon as the limit was passed


@pytest.mark.django_db(transaction=True)
def test_upload_routes_get_their_own_limit_above_the_json_limit(app, settings, token_for, alice):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    settings.UPLOAD_MAX_BYTES = 4096
    token = token_for(alice)
    boundary = b"boundary123"
    payload = b"y" * 3000
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + payload + b"\r\n--" + boundary + b"--\r\n"
    )
    status, answer, _ = _asgi_post(
        f"/openapi/v1/apps/{app.id}/files/upload",
        [
            (b"content-type", b"multipart/form-data; boundary=" + boundary),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        [body],
    )
    assert status == 201, answer
    assert json.loads(answer)["size"] == 3000
    # The JSON routes keep the small limit.
    status, _, _ = _asgi_post(
        "/openapi/v1/oauth/device/code",
        [(b"content-type", b"application/json"), (b"content-length", b"2000")],
        [b"{" + b" " * 1998 + b"}"],
    )
    assert status == 413


def test_admin_lists_uploads_and_imports(app, owner, superuser_client):
    upload(owner, app.id, name="listed.txt")
    page = superuser_client.get("/admin/uploads/uploadfile/")
    assert page.status_code == 200 and b"listed.txt" in page.content
    owner.post(
        f"/openapi/v1/workspaces/{app.workspace_id}/apps/imports",
        {"mode": "yaml-content", "yaml_content": "app: [broken"},
        format="json",
    )
    page = superuser_client.get("/admin/apps_runtime/appimport/?status=failed")
    assert page.status_code == 200 and b"failed" in page.content
