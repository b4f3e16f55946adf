"""Files uploaded for run inputs (``local_file`` with ``upload_file_id``), client.md §4.10.

The bytes live in Django's default storage (local files by default, any configured backend in
production) under ``storage_key``; the row says whose they are. An upload nobody has used in a run
is deleted by housekeeping after ``UPLOAD_RETENTION_SECONDS``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class UploadFile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("apps_runtime.App", on_delete=models.CASCADE, related_name="uploads")
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="uploads"
    )
    # The uploader: ``Subject.key`` scopes every read; the account is kept for the admin.
    owner_key = models.CharField(max_length=320, db_index=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uploads",
    )
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    extension = models.CharField(max_length=32, blank=True)
    mime_type = models.CharField(max_length=255)
    storage_key = models.CharField(max_length=512, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set when a run takes the file as an input; used files are kept.
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes)"
