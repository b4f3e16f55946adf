from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api.wire import iso_z
from uploads.models import UploadFile


class UploadRequestSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="exactly one file part named `file`")


class UploadResponseSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(help_text="the `upload_file_id` of a `local_file` run input")
    name = serializers.CharField()
    size = serializers.IntegerField()
    extension = serializers.CharField()
    mime_type = serializers.CharField()
    created_by = serializers.CharField(help_text="the uploader's account id")
    created_at = serializers.CharField()


def upload_payload(upload: UploadFile) -> dict[str, Any]:
    return {
        "id": str(upload.id),
        "name": upload.name,
        "size": upload.size,
        "extension": upload.extension,
        "mime_type": upload.mime_type,
        "created_by": str(upload.account_id) if upload.account_id else upload.owner_key,
        "created_at": iso_z(upload.created_at),
    }
