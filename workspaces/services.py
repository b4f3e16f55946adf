"""Writes on workspaces and memberships."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from accounts.audit import Actor, audit_record
from accounts.models import Account
from config.api.errors import ApiError
from workspaces.models import Membership, Workspace
from workspaces.selectors import WORKSPACE_NOT_FOUND, membership_get


def workspace_switch(account: Account, workspace_id: uuid.UUID) -> Membership:
    """Make a workspace the account's current one; a non-member gets 404."""
    with transaction.atomic():
        # Lock the account's memberships: two concurrent switches must not both hold "current".
        list(Membership.objects.select_for_update().filter(account=account).values_list("pk"))
        membership = membership_get(account, workspace_id)
        if membership.workspace.status != Workspace.Status.NORMAL:
            # As Dify's console: only a normal workspace can become the current one.
            raise ApiError(404, WORKSPACE_NOT_FOUND, hint="the workspace is archived")
        Membership.objects.filter(account=account, current=True).exclude(pk=membership.pk).update(
            current=False
        )
        if not membership.current:
            Membership.objects.filter(pk=membership.pk).update(current=True)
            membership.current = True
    return membership


def workspace_create(*, name: str, owner: Account, actor: Actor) -> Workspace:
    """A new workspace owned by ``owner`` (``manage.py create_workspace``); it becomes the owner's
    current workspace when the owner has none."""
    name = name.strip()
    if not name:
        raise ApiError(422, "the workspace name must not be empty")
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(account=owner).values_list("pk"))
        has_current = Membership.objects.filter(account=owner, current=True).exists()
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(
            workspace=workspace, account=owner, role=Membership.Role.OWNER, current=not has_current
        )
        audit_record(
            "workspace.created",
            actor=actor,
            account=owner,
            workspace_id=workspace.id,
            name=workspace.name,
            owner_email=owner.email,
        )
    return workspace


# --- the admin's writes (a staff user, not a member: no role rules apply) ---------------------

WORKSPACE_EDITABLE = ("name", "status")
MEMBERSHIP_EDITABLE = ("role", "current")


def workspace_save(workspace: Workspace, *, changes: dict[str, Any], actor: Actor) -> bool:
    """Create ``workspace`` (unsaved) or change its name/status; one audit record either way."""
    unknown = set(changes) - set(WORKSPACE_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if workspace._state.adding:
            for name, value in changes.items():
                setattr(workspace, name, value)
            workspace.save()
            audit_record(
                "workspace.created", actor=actor, workspace_id=workspace.id, name=workspace.name
            )
            return True
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        diff = {
            name: {"before": getattr(locked, name), "after": value}
            for name, value in changes.items()
            if getattr(locked, name) != value
        }
        if not diff:
            return False
        Workspace.objects.filter(pk=workspace.pk).update(**{n: changes[n] for n in diff})
        for name in diff:
            setattr(workspace, name, changes[name])
        audit_record("workspace.updated", actor=actor, workspace_id=workspace.id, changes=diff)
    return True


def membership_save(membership: Membership, *, changes: dict[str, Any], actor: Actor) -> bool:
    """Add ``membership`` (unsaved) or change its role / current flag. Making it current clears
    the account's other current membership in the same transaction (one current per account)."""
    unknown = set(changes) - set(MEMBERSHIP_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        adding = membership._state.adding
        before = (
            {}
            if adding
            else {
                name: getattr(Membership.objects.select_for_update().get(pk=membership.pk), name)
                for name in changes
            }
        )
        for name, value in changes.items():
            setattr(membership, name, value)
        if membership.current:
            Membership.objects.filter(account_id=membership.account_id, current=True).exclude(
                pk=membership.pk
            ).update(current=False)
        membership.save()
        details: dict[str, Any] = {
            "workspace_id": membership.workspace_id,
            "role": membership.role,
            "current": membership.current,
        }
        if adding:
            audit_record("membership.added", actor=actor, account=membership.account, **details)
            return True
        diff = {
            name: {"before": before[name], "after": value}
            for name, value in changes.items()
            if before[name] != value
        }
        if not diff:
            return False
        audit_record(
            "membership.updated",
            actor=actor,
            account=membership.account,
            workspace_id=membership.workspace_id,
            changes=diff,
        )
    return True


def membership_delete(membership: Membership, *, actor: Actor) -> None:
    """Remove an account from a workspace; its tokens lose the workspace on the next request."""
    with transaction.atomic():
        audit_record(
            "membership.removed",
            actor=actor,
            account=membership.account,
            workspace_id=membership.workspace_id,
            role=membership.role,
        )
        membership.delete()
