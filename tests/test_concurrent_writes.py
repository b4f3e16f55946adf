"""Concurrent writes that race on a unique constraint end cleanly, never in a 500 (PostgreSQL)."""

import pytest

from accounts.audit import Actor
from accounts.models import AccessToken
from accounts.services import access_token_mint
from tests.concurrency import race
from workspaces.models import Membership, Workspace
from workspaces.services import workspace_switch

TEST_ACTOR = Actor.operator("pytest")

THREADS = 6


@pytest.mark.shared_services
def test_simultaneous_logins_from_one_device_leave_one_live_token(transactional_db, alice):
    errors = race(
        THREADS,
        lambda i: access_token_mint(
            actor=TEST_ACTOR, client_id="difyctl", device_label="twin", account=alice
        ),
    )
    assert errors == []
    live = AccessToken.objects.filter(device_label="twin", revoked_at__isnull=True)
    assert live.count() == 1
    assert AccessToken.objects.filter(device_label="twin").count() == THREADS


@pytest.mark.shared_services
def test_simultaneous_switches_leave_one_current_workspace(transactional_db, alice):
    spaces = [Workspace.objects.create(name=f"w{i}") for i in range(THREADS)]
    for space in spaces:
        Membership.objects.create(workspace=space, account=alice, role="normal")
    errors = race(THREADS, lambda i: workspace_switch(alice, spaces[i].id))
    assert errors == []
    assert Membership.objects.filter(account=alice, current=True).count() == 1
