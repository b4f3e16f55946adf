from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api.wire import iso_z
from workspaces.models import Membership


class WorkspacePayloadSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()


class WorkspaceSummaryResponseSerializer(WorkspacePayloadSerializer):
    status = serializers.CharField()
    current = serializers.BooleanField()


class WorkspaceDetailResponseSerializer(WorkspaceSummaryResponseSerializer):
    created_at = serializers.CharField(allow_null=True)


class WorkspaceListResponseSerializer(serializers.Serializer[Any]):
    workspaces = WorkspaceSummaryResponseSerializer(many=True)
    data = WorkspaceSummaryResponseSerializer(many=True)  # type: ignore[assignment]
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


def workspace_payload(membership: Membership) -> dict[str, Any]:
    return {
        "id": str(membership.workspace_id),
        "name": membership.workspace.name,
        "role": membership.role,
    }


def workspace_summary(membership: Membership) -> dict[str, Any]:
    return {
        **workspace_payload(membership),
        "status": membership.workspace.status,
        "current": membership.current,
    }


def workspace_detail(membership: Membership) -> dict[str, Any]:
    return {**workspace_summary(membership), "created_at": iso_z(membership.workspace.created_at)}
