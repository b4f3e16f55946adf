"""Reads of workspaces, always scoped to the calling account."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connections
from django.db.models import Case, IntegerField, OuterRef, QuerySet, Value, When
from django.db.models.functions import JSONArray

from accounts.authentication import (
    DIGEST_PLACEHOLDER,
    BearerQuery,
    Subject,
    live_token_queryset,
)
from accounts.models import AccessToken, Account
from config.api.errors import ApiError
from config.compiled_query import CompiledQuery
from workspaces.models import Membership, Workspace

WORKSPACE_NOT_FOUND = "workspace not found"


def _memberships_of(account_id: uuid.UUID | OuterRef) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(account_id=account_id)  # type: ignore[misc]  # OuterRef
        .select_related("workspace")
        .order_by("workspace__created_at", "workspace_id")
    )


# /account and /workspaces run this on every call: compiled once (config/compiled_query.py).
_MEMBERSHIPS = CompiledQuery(_memberships_of, uuid.UUID(int=0))


def memberships_for_account(account: Account) -> list[Membership]:
    """The account's memberships with their workspaces, oldest workspace first."""
    return _MEMBERSHIPS.run(account.pk)


def _live_token_with_memberships(digest: str) -> QuerySet[AccessToken]:
    from django.contrib.postgres.expressions import ArraySubquery

    rows = _memberships_of(OuterRef("account_id")).values(
        row=JSONArray("workspace_id", "role", "current", "workspace__name", "workspace__status")
    )
    return live_token_queryset(digest).annotate(caller_memberships=ArraySubquery(rows))


# /account and /workspaces authenticate and read the caller's memberships in one round trip (a
# third of the cost of /account was the second one). PostgreSQL only (ARRAY(subquery)); elsewhere
# the views read them with memberships_for_account.
TOKEN_WITH_MEMBERSHIPS: BearerQuery | None = (
    CompiledQuery(_live_token_with_memberships, DIGEST_PLACEHOLDER)
    if connections["default"].vendor == "postgresql"
    else None
)


@dataclass(frozen=True, slots=True)
class CallerWorkspace:
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class CallerMembership:
    """A membership of the caller as TOKEN_WITH_MEMBERSHIPS reads it: what the identity and
    workspace-list bodies show (workspaces.serializers), without building model instances."""

    workspace_id: uuid.UUID
    role: str
    current: bool
    workspace: CallerWorkspace


def memberships_of_caller(subject: Subject) -> Sequence[Membership | CallerMembership]:
    """``memberships_for_account`` for the calling account, from its token's row when the view's
    ``bearer_query`` was TOKEN_WITH_MEMBERSHIPS."""
    account = subject.account
    assert account is not None
    rows = getattr(subject.token, "caller_memberships", None)
    if rows is None:
        return memberships_for_account(account)
    return [
        CallerMembership(uuid.UUID(workspace_id), role, current, CallerWorkspace(name, status))
        for workspace_id, role, current, name, status in rows
    ]


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


def _membership_of(account_id: uuid.UUID, workspace_id: uuid.UUID) -> QuerySet[Membership]:
    memberships = Membership.objects.filter(account_id=account_id, workspace_id=workspace_id)
    return memberships.only("id").order_by()[:1]  # no default ordering: no join


# The membership check of /apps, describe, runs and forms: compiled once (config/compiled_query.py).
_MEMBERSHIP = CompiledQuery(_membership_of, uuid.UUID(int=1), uuid.UUID(int=2))


def is_member(account: Account, workspace_id: uuid.UUID) -> bool:
    return account.is_active and bool(_MEMBERSHIP.run(account.pk, workspace_id))


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
        Membership.with_pending.filter(workspace_id=workspace_id)
        .select_related("account")
        .annotate(role_rank=rank)
        .order_by("role_rank", "created_at", "id")
    )


def workspace_by_id_or_name(value: str) -> Workspace:
    """A workspace by id, or by exact name when that name is unique (operator commands);
    ``LookupError`` says why not."""
    try:
        workspace_id = uuid.UUID(value)
    except ValueError:
        matches = list(Workspace.objects.filter(name=value)[:2])
        if not matches:
            raise LookupError(
                f"no workspace named {value!r} (manage.py create_workspace makes one)"
            ) from None
        if len(matches) > 1:
            raise LookupError(
                f"several workspaces are named {value!r}; pass the workspace id instead"
            ) from None
        return matches[0]
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        raise LookupError(f"no workspace with id {value}")
    return workspace
