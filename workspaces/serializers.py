from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Account
from accounts.serializers import AccountPayloadSerializer, account_payload
from config.api.wire import iso_z
from workspaces.models import Membership


class WorkspacePayloadSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()


class AccountIdentitySerializer(serializers.Serializer[Any]):
    """The ``account``, ``workspaces`` and ``default_workspace_id`` of ``/account`` and of the
    device login's token response."""

    account = AccountPayloadSerializer(allow_null=True)
    workspaces = WorkspacePayloadSerializer(many=True)
    default_workspace_id = serializers.CharField(allow_null=True)


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


def account_identity(account: Account, memberships: list[Membership]) -> dict[str, Any]:
    """The identity block for ``account``, given its memberships (``memberships_for_account``).

    The membership flagged ``current`` is the default workspace, else the first one.
    """
    current = next((m for m in memberships if m.current), memberships[0] if memberships else None)
    return {
        "account": account_payload(account),
        "workspaces": [workspace_payload(m) for m in memberships],
        "default_workspace_id": str(current.workspace_id) if current is not None else None,
    }
