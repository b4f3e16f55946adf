"""Reads of workspaces, always scoped to the calling account."""

from __future__ import annotations

import uuid

from django.db.models import Case, IntegerField, QuerySet, Value, When

from accounts.models import Account
from config.api.errors import ApiError
from config.compiled_query import CompiledQuery
from workspaces.models import Membership

WORKSPACE_NOT_FOUND = "workspace not found"


def _memberships_of(account_id: uuid.UUID) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(account_id=account_id)
        .select_related("workspace")
        .order_by("workspace__created_at", "workspace_id")
    )


# /account and /workspaces run this on every call: compiled once (config/compiled_query.py).
_MEMBERSHIPS = CompiledQuery(_memberships_of, uuid.UUID(int=0))


def memberships_for_account(account: Account) -> list[Membership]:
    """The account's memberships with their workspaces, oldest workspace first."""
    return _MEMBERSHIPS.run(account.pk)


def membership_get(account: Account, workspace_id: uuid.UUID) -> Membership:
    """The caller's membership of a workspace; not a member (or no such workspace) → 404."""
    membership = (
        Membership.objects.filter(account=account, workspace_id=workspace_id)
        .select_related("workspace")
        .first()
    )
    if membership is None:
        raise ApiError(404, WORKSPACE_NOT_FOUND)
    return membership


def is_member(account: Account, workspace_id: uuid.UUID) -> bool:
    return (
        account.is_active
        and Membership.objects.filter(account=account, workspace_id=workspace_id).exists()
    )


def member_rows(account: Account, workspace_id: uuid.UUID) -> QuerySet[Membership]:
    """The members of a workspace the caller belongs to (404 otherwise): the owner first, then
    by when they joined."""
    membership_get(account, workspace_id)
    rank = Case(
        When(role=Membership.Role.OWNER, then=Value(0)),
        When(role=Membership.Role.ADMIN, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        Membership.objects.filter(workspace_id=workspace_id)
        .select_related("account")
        .annotate(role_rank=rank)
        .order_by("role_rank", "created_at", "id")
    )
