"""Reads of uploads, always scoped to the uploader."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from accounts.authentication import Subject
from apps_runtime.models import App
from config.api.errors import ApiError
from config.api.wire import parse_uuid
from uploads.models import UploadFile

UPLOAD_NOT_FOUND = "upload file not found"


def upload_file_get_for_subject(subject: Subject, file_id: str) -> UploadFile:
    """The caller's own upload by id; anyone else's, a malformed or an unknown id → 404."""
    parsed = parse_uuid(file_id)
    upload = (
        UploadFile.objects.select_related("app").filter(id=parsed, owner_key=subject.key).first()
        if parsed is not None
        else None
    )
    if upload is None:
        raise ApiError(404, UPLOAD_NOT_FOUND)
    return upload


def upload_file_for_run(subject: Subject, app: App, file_id: str) -> UploadFile | None:
    """A ``local_file`` run input: the caller's own upload in the app's workspace, marked used
    (so housekeeping keeps it); ``None`` when there is no such upload."""
    parsed = parse_uuid(file_id)
    if parsed is None:
        return None
    upload = UploadFile.objects.filter(
        id=parsed, owner_key=subject.key, workspace_id=app.workspace_id
    ).first()
    if upload is not None and upload.used_at is None:
        UploadFile.objects.filter(pk=upload.pk, used_at__isnull=True).update(used_at=timezone.now())
    return upload


class UploadTooLarge(Exception):
    pass


def upload_owner_filter(*, account_id: Any, subject_type: str, email: str) -> Q:
    """Uploads of a run's caller, from what a run records of it (``Subject.key``'s shape)."""
    if account_id is not None:
        return Q(owner_key=f"account:{account_id}")
    return Q(owner_key__startswith=f"{subject_type}:", owner_key__endswith=f":{email}")


def upload_file_content(owner: Q, workspace_id: Any, file_id: str, max_bytes: int) -> bytes | None:
    """The stored bytes of the owner's upload in the workspace (``None``: no such upload, or
    its bytes are gone); ``UploadTooLarge`` past ``max_bytes``, read no further than that."""
    parsed = parse_uuid(file_id)
    if parsed is None:
        return None
    upload = UploadFile.objects.filter(owner, id=parsed, workspace_id=workspace_id).first()
    if upload is None:
        return None
    if upload.size > max_bytes:
        raise UploadTooLarge(f"it is larger than {max_bytes} bytes")
    try:
        with default_storage.open(upload.storage_key, "rb") as stored:
            content = stored.read(max_bytes + 1)
    except OSError:
        return None
    if len(content) > max_bytes:
        raise UploadTooLarge(f"it is larger than {max_bytes} bytes")
    return bytes(content)
