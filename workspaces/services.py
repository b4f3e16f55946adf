"""Writes on workspaces and memberships."""

from __future__ import annotations

import uuid

from django.db import transaction

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
