from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rest_framework import serializers

from accounts.models import Account
from accounts.serializers import AccountPayloadSerializer, account_payload
from config.api.wire import iso_z
from workspaces.models import ASSIGNABLE_ROLES, Membership


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


class _WorkspaceShown(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...


class MembershipShown(Protocol):
    """What the identity and workspace bodies read of a membership: a ``Membership`` with its
    workspace, or a ``selectors.CallerMembership``."""

    @property
    def workspace_id(self) -> Any: ...
    @property
    def role(self) -> str: ...
    @property
    def current(self) -> bool: ...
    @property
    def workspace(self) -> _WorkspaceShown: ...


def workspace_payload(membership: MembershipShown) -> dict[str, Any]:
    return {
        "id": str(membership.workspace_id),
        "name": membership.workspace.name,
        "role": membership.role,
    }


def workspace_summary(membership: MembershipShown) -> dict[str, Any]:
    return {
        **workspace_payload(membership),
        "status": membership.workspace.status,
        "current": membership.current,
    }


def workspace_detail(membership: Membership) -> dict[str, Any]:
    return {**workspace_summary(membership), "created_at": iso_z(membership.workspace.created_at)}


def account_identity(account: Account, memberships: Sequence[MembershipShown]) -> dict[str, Any]:
    """The identity block for ``account``, given its memberships (``memberships_for_account``).

    The membership flagged ``current`` is the default workspace, else the first one.
    """
    current = next((m for m in memberships if m.current), memberships[0] if memberships else None)
    return {
        "account": account_payload(account),
        "workspaces": [workspace_payload(m) for m in memberships],
        "default_workspace_id": str(current.workspace_id) if current is not None else None,
    }


MEMBER_STATUS = {"active": "active", "pending": "pending", "disabled": "banned"}
MEMBER_STATUSES = ("active", "pending", "banned")


class MemberRowSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(help_text="the member's account id (the `member_id` of the routes)")
    name = serializers.CharField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    status = serializers.ChoiceField(choices=list(MEMBER_STATUSES))
    avatar = serializers.CharField(allow_null=True)
    current = serializers.BooleanField(help_text="true on the caller's own row")
    created_at = serializers.CharField(allow_null=True, help_text="when they joined")


class MemberListResponseSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()
    data = MemberRowSerializer(many=True)  # type: ignore[assignment]


class MemberListQuerySerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class MemberInviteRequestSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(
        choices=list(ASSIGNABLE_ROLES),
        error_messages={"invalid_choice": "must be one of: normal, editor, admin"},
    )


class MemberRoleRequestSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(
        choices=list(ASSIGNABLE_ROLES),
        error_messages={"invalid_choice": "must be one of: normal, editor, admin"},
    )


class MemberInviteResponseSerializer(serializers.Serializer[Any]):
    result = serializers.CharField()
    member_id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.CharField()
    tenant_id = serializers.UUIDField()
    invite_url = serializers.CharField(
        help_text="for a new account: the single-use link where they set a password; "
        "for an existing account: the login page"
    )


class MemberResultResponseSerializer(serializers.Serializer[Any]):
    result = serializers.CharField()
    member_id = serializers.UUIDField()
    role = serializers.CharField(required=False)


def member_row(membership: Membership, *, caller_id: Any) -> dict[str, Any]:
    account = membership.account
    return {
        "id": str(account.id),
        "name": account.display_name(),
        "email": account.email,
        "role": membership.role,
        "status": "pending"
        if membership.pending
        else MEMBER_STATUS.get(account.status, account.status),
        "avatar": None,
        "current": account.id == caller_id,
        "created_at": iso_z(membership.created_at),
    }
