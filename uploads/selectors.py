"""Reads of uploads, always scoped to the uploader."""

from __future__ import annotations

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
