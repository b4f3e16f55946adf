"""Writes of uploads: store one file for an app, mark it used, purge unused ones."""

from __future__ import annotations

import logging
import mimetypes
import posixpath
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_by_subject
from accounts.authentication import Subject
from apps_runtime.models import App
from config.api.errors import ApiError, ServiceUnavailable
from uploads.models import UploadFile

NAME_MAX = 255
UPLOAD_DIR = "uploads"
STORAGE_UNAVAILABLE = "the file could not be stored, try again later"

logger = logging.getLogger("difyapi.uploads")


def _delete_quietly(key: str) -> None:
    try:
        default_storage.delete(key)
    except OSError as exc:
        logger.warning("could not remove %s: %s", key, exc)


def _clean_name(raw: str | None) -> str:
    """The client's file name without any directory part or control characters."""
    name = posixpath.basename((raw or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    return name[:NAME_MAX] or "file"


def _extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot and ext and len(ext) <= 32 else ""


def too_large() -> ApiError:
    return ApiError(
        413,
        f"file is larger than {settings.UPLOAD_MAX_BYTES} bytes",
        code="file_too_large",
    )


def upload_file_create(
    subject: Subject, app: App, uploaded: UploadedFile, *, ip: str = ""
) -> UploadFile:
    """Store ``uploaded`` for ``app``; 413 past ``UPLOAD_MAX_BYTES``, 415 for a type not in
    ``UPLOAD_ALLOWED_EXTENSIONS``. A failure leaves no file and no row behind."""
    name = _clean_name(uploaded.name)
    extension = _extension(name)
    allowed = {ext.lower().lstrip(".") for ext in settings.UPLOAD_ALLOWED_EXTENSIONS}
    if extension not in allowed:
        shown = f".{extension}" if extension else "files without an extension"
        raise ApiError(415, f"{shown} is not an allowed file type", code="unsupported_file_type")
    if uploaded.size is None or uploaded.size > settings.UPLOAD_MAX_BYTES:
        raise too_large()
    if uploaded.size == 0:
        raise ApiError(422, "file: the file is empty", code="invalid_param")
    mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    upload = UploadFile(
        app=app,
        workspace_id=app.workspace_id,
        owner_key=subject.key,
        account=subject.account,
        name=name,
        size=uploaded.size,
        extension=extension,
        mime_type=mime_type,
        created_at=timezone.now(),
    )
    # The storage picks a free name; the key never contains the client's file name. The id in
    # it is new, so the name asked for is the one written (and the one to remove on failure).
    wanted = f"{UPLOAD_DIR}/{app.workspace_id}/{upload.id}{'.' + extension if extension else ''}"
    try:
        key = default_storage.save(wanted, uploaded)
    except OSError as exc:  # disk full, quota, I/O error: no half-written file stays behind
        _delete_quietly(wanted)
        logger.warning("upload not stored (%s): %s", wanted, exc)
        raise ServiceUnavailable(STORAGE_UNAVAILABLE) from None
    upload.storage_key = key
    try:
        with transaction.atomic():
            upload.save(force_insert=True)
            audit_by_subject(
                "upload_file.created",
                subject,
                ip=ip,
                upload_id=upload.id,
                app_id=app.id,
                size=upload.size,
                extension=extension,
            )
    except Exception:
        default_storage.delete(key)
        raise
    return upload


def upload_file_mark_used(upload: UploadFile) -> None:
    if upload.used_at is None:
        UploadFile.objects.filter(pk=upload.pk, used_at__isnull=True).update(used_at=timezone.now())


def upload_files_purge_unused() -> int:
    """Housekeeping: delete uploads no run used within ``UPLOAD_RETENTION_SECONDS``."""
    cutoff = timezone.now() - timedelta(seconds=settings.UPLOAD_RETENTION_SECONDS)
    purged = 0
    for upload in UploadFile.objects.filter(used_at__isnull=True, created_at__lt=cutoff)[:500]:
        # The row goes first: a run that takes the file meanwhile keeps both.
        deleted, _ = UploadFile.objects.filter(pk=upload.pk, used_at__isnull=True).delete()
        if deleted:
            default_storage.delete(upload.storage_key)
            purged += 1
    return purged


def upload_files_purge_orphans() -> int:
    """Housekeeping: delete stored files that no upload row owns (a write that failed half-way,
    a crash between storing and recording), once older than ``UPLOAD_ORPHAN_GRACE_SECONDS`` so a
    file being stored right now is never taken. At most ``ORPHAN_BATCH`` files a round."""
    cutoff = timezone.now() - timedelta(seconds=settings.UPLOAD_ORPHAN_GRACE_SECONDS)
    keys = _stored_keys()
    purged = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        owned = set(
            UploadFile.objects.filter(storage_key__in=chunk).values_list("storage_key", flat=True)
        )
        for key in chunk:
            if key in owned:
                continue
            try:
                if default_storage.get_modified_time(key) >= cutoff:
                    continue
            except OSError:
                continue  # gone meanwhile
            _delete_quietly(key)
            purged += 1
            if purged >= ORPHAN_BATCH:
                return purged
    return purged


ORPHAN_BATCH = 1000


def _stored_keys() -> list[str]:
    """Every stored upload key (``uploads/<workspace>/<file>``)."""
    keys: list[str] = []
    try:
        workspaces, _ = default_storage.listdir(UPLOAD_DIR)
    except (OSError, NotImplementedError):
        return keys
    for workspace in workspaces:
        try:
            _, files = default_storage.listdir(f"{UPLOAD_DIR}/{workspace}")
        except OSError:
            continue
        keys.extend(f"{UPLOAD_DIR}/{workspace}/{name}" for name in files)
    return keys
