from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api.wire import MAX_PAGE_LIMIT
from workspaces.serializers import WorkspacePayloadSerializer


class AccountPayloadSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()


class AccountResponseSerializer(serializers.Serializer[Any]):
    subject_type = serializers.CharField()
    subject_email = serializers.CharField(allow_null=True)
    subject_issuer = serializers.CharField(allow_null=True)
    account = AccountPayloadSerializer(allow_null=True)
    workspaces = WorkspacePayloadSerializer(many=True)
    default_workspace_id = serializers.CharField(allow_null=True)


class SessionRowSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    prefix = serializers.CharField()
    client_id = serializers.CharField()
    device_label = serializers.CharField()
    created_at = serializers.CharField(allow_null=True)
    last_used_at = serializers.CharField(allow_null=True)
    expires_at = serializers.CharField(allow_null=True)
    current = serializers.BooleanField()


class SessionListResponseSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = SessionRowSerializer(many=True)  # type: ignore[assignment]


class SessionListQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    limit = serializers.IntegerField(
        required=False, default=100, min_value=1, max_value=MAX_PAGE_LIMIT
    )


class RevokeResponseSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
