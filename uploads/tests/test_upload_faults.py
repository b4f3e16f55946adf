"""A storage that fails half-way through a write (disk full) leaves no file and no row, and
housekeeping removes stored files no upload row owns (issue 16 §8a)."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from apps_runtime.tests.factories import make_workflow_app
from config.housekeeping import run_once
from conftest import assert_envelope
from uploads.models import UploadFile


class DiskFullStorage(FileSystemStorage):
    """Writes the first chunk of a file, then the disk is full."""

    def _save(self, name, content):
        chunks = content.chunks

        def failing(chunk_size=None):
            data = b"".join(chunks())
            yield data[: len(data) // 2]
            raise OSError(errno.ENOSPC, "No space left on device")

        content.chunks = failing
        return super()._save(name, content)


@pytest.fixture
def media(settings, tmp_path):
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    return root


def _stored(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_write_that_fails_half_way_leaves_nothing(acme, alice, api, token_for, settings, media):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.DiskFullStorage"},
    }
    settings.SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 11
    app = make_workflow_app(acme)
    response = api(token_for(alice)).post(
        f"/openapi/v1/apps/{app.id}/files",
        {"file": SimpleUploadedFile("big.csv", b"a,b\n" * 2048, content_type="text/csv")},
        format="multipart",
    )
    body = assert_envelope(response, 503, code="service_unavailable")
    assert response["Retry-After"] == "11" and body["retry_after"] == 11
    assert UploadFile.objects.count() == 0
    assert _stored(media) == []


def test_housekeeping_removes_old_files_no_row_owns(acme, alice, api, token_for, settings, media):
    settings.UPLOAD_ORPHAN_GRACE_SECONDS = 60
    app = make_workflow_app(acme)
    response = api(token_for(alice)).post(
        f"/openapi/v1/apps/{app.id}/files",
        {"file": SimpleUploadedFile("kept.txt", b"owned", content_type="text/plain")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    owned = UploadFile.objects.get().storage_key
    old_orphan = default_storage.save(
        f"uploads/{acme.id}/left-over.bin", SimpleUploadedFile("x", b"1")
    )
    new_orphan = default_storage.save(
        f"uploads/{acme.id}/being-written.bin", SimpleUploadedFile("y", b"2")
    )
    an_hour_ago = time.time() - 3600
    for key in (owned, old_orphan):
        os.utime(media / key, (an_hour_ago, an_hour_ago))
    results = run_once()
    assert results["stored files no upload owns removed"] == 1
    assert _stored(media) == sorted([owned, new_orphan])
