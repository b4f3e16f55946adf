"""Writes on workspaces and memberships."""

from __future__ import annotations

import uuid

from django.db import transaction

from accounts.models import Account
from workspaces.models import Membership
from workspaces.selectors import membership_get


def workspace_switch(account: Account, workspace_id: uuid.UUID) -> Membership:
    """Make a workspace the account's current one; a non-member gets 404."""
    with transaction.atomic():
        membership = membership_get(account, workspace_id)
        Membership.objects.filter(account=account, current=True).exclude(pk=membership.pk).update(
            current=False
        )
        if not membership.current:
            Membership.objects.filter(pk=membership.pk).update(current=True)
            membership.current = True
    return membership
