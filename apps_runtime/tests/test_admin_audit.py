"""The app catalog admin writes through the same services as the API and the commands: each admin
action or edit leaves exactly the audit record the service leaves for the same change by the same
admin (one test per action)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.audit import Actor
from apps_runtime import services
from apps_runtime.models import App, Tag, WorkflowVersion
from tests.audit_records import last_id, only_new_event, record

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"
CHANGELIST = "/admin/apps_runtime/app/"
VERSIONS = "/admin/apps_runtime/workflowversion/"


def imported(workspace, filename: str = "chat_full.yml") -> App:
    text = (FIXTURES / filename).read_text(encoding="utf-8")
    return services.app_import_dsl(
        workspace=workspace, yaml_text=text, actor=Actor.operator("pytest")
    ).app


ACTIONS = [
    ("disable_service_api", {"enable_api": True}, {"enable_api": False}),
    ("enable_service_api", {"enable_api": False}, {"enable_api": True}),
    ("set_access_public", {}, {"access_mode": "public"}),
    ("set_access_sso_verified", {}, {"access_mode": "sso_verified"}),
    ("set_access_private_all", {"access_mode": "private"}, {"access_mode": "private_all"}),
    ("set_access_private", {}, {"access_mode": "private"}),
]


@pytest.mark.parametrize(("action", "start", "change"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_app_action_writes_the_services_record(root_client, root, acme, action, start, change):
    app = imported(acme)
    App.objects.filter(pk=app.pk).update(**start)
    app.refresh_from_db()
    original = {name: getattr(app, name) for name in change}
    mark = last_id()
    root_client.post(CHANGELIST, {"action": action, "_selected_action": [app.pk]})
    via_admin = only_new_event(mark)
    App.objects.filter(pk=app.pk).update(**original)
    app.refresh_from_db()
    mark = last_id()
    services.app_update(app=app, changes=change, actor=Actor.admin(root))
    by_service = only_new_event(mark)
    assert record(via_admin) == record(by_service)
    assert via_admin.action == "app.updated" and via_admin.actor_email == "root@example.com"
    assert list(via_admin.details["changes"]) == list(change)


def test_change_form_writes_the_services_record(root_client, root, acme):
    app = imported(acme)
    tag = Tag.objects.create(workspace=acme, name="ops")
    form = {
        "name": "Renamed",
        "description": app.description,
        "icon": app.icon,
        "icon_type": app.icon_type,
        "icon_background": app.icon_background,
        "enable_api": "on",
        "status": app.status,
        "access_mode": "public",
        "tags": [str(tag.id)],
    }
    before = {"name": app.name, "access_mode": app.access_mode}
    mark = last_id()
    assert root_client.post(f"{CHANGELIST}{app.pk}/change/", form).status_code == 302
    via_admin = only_new_event(mark)
    App.objects.filter(pk=app.pk).update(**before)
    app.tags.clear()
    app.refresh_from_db()
    mark = last_id()
    services.app_update(
        app=app,
        changes={"name": "Renamed", "access_mode": "public", "tags": [tag]},
        actor=Actor.admin(root),
    )
    assert record(via_admin) == record(only_new_event(mark))


def test_import_form_writes_the_services_record(root_client, root, acme):
    data = (FIXTURES / "chat_full.yml").read_bytes()
    mark = last_id()
    upload = SimpleUploadedFile("chat.yml", data, content_type="application/x-yaml")
    response = root_client.post(
        f"{CHANGELIST}import-dsl/", {"file": upload, "workspace": str(acme.id), "name": ""}
    )
    assert response.status_code == 302
    via_admin = only_new_event(mark)
    mark = last_id()
    services.app_import_dsl(workspace=acme, yaml_text=data, author=root, actor=Actor.admin(root))
    by_service = only_new_event(mark)
    assert record(via_admin, "app_id") == record(by_service, "app_id")
    assert via_admin.details["app_id"] != by_service.details["app_id"]


def test_publish_action_writes_the_services_record(root_client, root, acme):
    app = imported(acme, "workflow_full.yml")
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    mark = last_id()
    root_client.post(VERSIONS, {"action": "publish_drafts", "_selected_action": [draft.pk]})
    via_admin = only_new_event(mark)
    mark = last_id()
    services.workflow_publish_draft(draft=draft, actor=Actor.admin(root))
    by_service = only_new_event(mark)
    assert record(via_admin, "workflow_id") == record(by_service, "workflow_id")
    assert via_admin.action == "workflow.published"


TAGS = "/admin/apps_runtime/tag/"


def test_tag_created_renamed_and_deleted_write_the_services_records(root_client, root, acme):
    mark = last_id()
    response = root_client.post(f"{TAGS}add/", {"name": "support", "workspace": str(acme.pk)})
    assert response.status_code == 302, response.content[:2000]
    created = only_new_event(mark)
    tag = Tag.objects.get(workspace=acme, name="support")
    assert (created.action, created.details["name"]) == ("tag.created", "support")

    mark = last_id()
    response = root_client.post(
        f"{TAGS}{tag.pk}/change/", {"name": "helpdesk", "workspace": str(acme.pk)}
    )
    assert response.status_code == 302, response.content[:2000]
    via_admin = only_new_event(mark)
    Tag.objects.filter(pk=tag.pk).update(name="support")
    tag.refresh_from_db()
    tag.name = "helpdesk"
    mark = last_id()
    services.tag_save(tag, actor=Actor.admin(root))
    assert record(via_admin) == record(only_new_event(mark))
    assert via_admin.details["changes"] == {"name": {"before": "support", "after": "helpdesk"}}

    mark = last_id()
    response = root_client.post(f"{TAGS}{tag.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:2000]
    deleted = only_new_event(mark)
    assert (deleted.action, deleted.details["name"]) == ("tag.deleted", "helpdesk")
    assert not Tag.objects.filter(pk=tag.pk).exists()


def test_tags_deleted_in_bulk_leave_one_record_each(root_client, acme):
    tags = [Tag.objects.create(workspace=acme, name=f"t{i}") for i in range(3)]
    mark = last_id()
    response = root_client.post(
        TAGS,
        {"action": "delete_selected", "_selected_action": [str(t.pk) for t in tags], "post": "yes"},
    )
    assert response.status_code == 302, response.content[:2000]
    from accounts.models import AuditEvent

    events = list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))
    assert [e.action for e in events] == ["tag.deleted"] * 3
    assert not Tag.objects.filter(workspace=acme).exists()
