"""The workspace admin writes through workspaces.services: each edit leaves the record the
service leaves for the same change by the same admin."""

from __future__ import annotations

from accounts.audit import Actor
from accounts.models import Account
from tests.audit_records import last_id, only_new_event, record
from workspaces.models import Membership, Workspace
from workspaces.services import membership_delete, membership_save, workspace_save

URL = "/admin/workspaces/workspace/"


def inline(workspace: Workspace, rows: list[dict], initial: int) -> dict:
    data = {
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            if value not in ("", None, False):
                data[f"memberships-{index}-{key}"] = "on" if value is True else str(value)
        data[f"memberships-{index}-workspace"] = str(workspace.pk)
    return data


def test_rename_writes_the_services_record(root_client, root, acme):
    mark = last_id()
    response = root_client.post(
        f"{URL}{acme.pk}/change/",
        {"name": "Acme Inc", "status": acme.status, **inline(acme, [], 0)},
    )
    assert response.status_code == 302, response.content[:3000]
    via_admin = only_new_event(mark)
    Workspace.objects.filter(pk=acme.pk).update(name="Acme")
    acme.refresh_from_db()
    mark = last_id()
    workspace_save(acme, changes={"name": "Acme Inc"}, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))
    assert via_admin.action == "workspace.updated"


def test_member_added_changed_and_removed_write_the_services_records(root_client, root, acme, bob):
    carol = Account.objects.create_user("carol@example.com", "pw-123456789", name="Carol")
    bob_row = Membership.objects.get(account=bob, workspace=acme)
    existing = {"id": bob_row.pk, "account": bob.pk, "role": "normal", "current": False}
    mark = last_id()
    added = {"account": carol.pk, "role": "editor", "current": True}
    response = root_client.post(
        f"{URL}{acme.pk}/change/",
        {"name": acme.name, "status": acme.status, **inline(acme, [existing, added], 1)},
    )
    assert response.status_code == 302, response.content[:3000]
    via_admin = only_new_event(mark)
    row = Membership.objects.get(account=carol, workspace=acme)
    assert (row.role, row.current, via_admin.action) == ("editor", True, "membership.added")
    row.delete()
    mark = last_id()
    membership_save(
        Membership(workspace=acme, account=carol),
        changes={"role": "editor", "current": True},
        actor=Actor.admin(root),
    )
    assert record(via_admin) == record(only_new_event(mark))

    mark = last_id()
    root_client.post(
        f"{URL}{acme.pk}/change/",
        {
            "name": acme.name,
            "status": acme.status,
            **inline(acme, [{**existing, "role": "admin"}], 1),
        },
    )
    via_admin = only_new_event(mark)
    Membership.objects.filter(pk=bob_row.pk).update(role="normal")
    bob_row.refresh_from_db()
    mark = last_id()
    membership_save(bob_row, changes={"role": "admin"}, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))

    mark = last_id()
    root_client.post(
        f"{URL}{acme.pk}/change/",
        {
            "name": acme.name,
            "status": acme.status,
            **inline(acme, [{**existing, "role": "admin", "DELETE": True}], 1),
        },
    )
    via_admin = only_new_event(mark)
    assert not Membership.objects.filter(pk=bob_row.pk).exists()
    again = Membership.objects.create(workspace=acme, account=bob, role="admin")
    mark = last_id()
    membership_delete(again, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))
    assert via_admin.action == "membership.removed"
