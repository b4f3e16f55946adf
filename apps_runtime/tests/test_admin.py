"""The app catalog admin, driven through the test client as a superuser would use it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.audit import Actor
from accounts.models import Account, AuditEvent
from apps_runtime import services
from apps_runtime.dsl import app_export_dsl
from apps_runtime.models import App, Tag, WorkflowVersion

TEST_ACTOR = Actor.operator("pytest")

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"
CHANGELIST = "/admin/apps_runtime/app/"
IMPORT_URL = "/admin/apps_runtime/app/import-dsl/"


@pytest.fixture
def admin_client(db) -> Client:
    user = Account.objects.create_superuser("root@example.com", "pw-123456789", name="Root")
    client = Client()
    client.force_login(user)
    return client


def imported(workspace, filename: str) -> App:
    text = (FIXTURES / filename).read_text(encoding="utf-8")
    return services.app_import_dsl(actor=TEST_ACTOR, workspace=workspace, yaml_text=text).app


def upload(filename: str, content: bytes | None = None) -> SimpleUploadedFile:
    data = content if content is not None else (FIXTURES / filename).read_bytes()
    return SimpleUploadedFile(Path(filename).name, data, content_type="application/x-yaml")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_changelist_offers_import_and_export(admin_client, acme):
    app = imported(acme, "chat_full.yml")
    page = admin_client.get(CHANGELIST).content.decode()
    assert IMPORT_URL in page
    assert f"/admin/apps_runtime/app/{app.pk}/export-dsl/" in page
    assert "Full Chat" in page
    assert admin_client.get("/admin/apps_runtime/app/add/").url == IMPORT_URL


def test_import_upload_creates_the_app(admin_client, acme):
    form = admin_client.get(IMPORT_URL)
    assert form.status_code == 200 and b'type="file"' in form.content
    response = admin_client.post(
        IMPORT_URL,
        {"file": upload("workflow_full.yml"), "workspace": str(acme.id), "name": "Uploaded"},
        follow=True,
    )
    app = App.objects.get()
    assert (app.name, app.mode, app.workspace) == ("Uploaded", "workflow", acme)
    assert app.author is not None and app.author.email == "root@example.com"
    assert response.redirect_chain[-1][0] == f"/admin/apps_runtime/app/{app.pk}/change/"
    shown = messages_of(response)
    assert any(f"Imported Uploaded (workflow) as {app.id}" in m for m in shown)
    assert any("cannot run node type(s) knowledge-retrieval;" in m for m in shown)


@pytest.mark.parametrize(
    ("filename", "fragment"),
    [
        ("broken/version_newer.yml", "newer than the supported 0.6.0"),
        ("broken/workflow_no_path_to_end.yml", "no path from the start node to an end node"),
        ("broken/invalid_yaml.yml", "invalid YAML"),
    ],
)
def test_import_upload_shows_the_named_error(admin_client, acme, filename, fragment):
    response = admin_client.post(IMPORT_URL, {"file": upload(filename), "workspace": str(acme.id)})
    assert response.status_code == 200
    assert fragment in response.content.decode()
    assert not App.objects.exists()


def test_import_needs_a_workspace_and_a_file(admin_client, acme):
    response = admin_client.post(IMPORT_URL, {"workspace": str(acme.id)})
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not App.objects.exists()


def test_import_is_for_staff_only(client, acme, alice):
    client.force_login(alice)
    response = client.get(IMPORT_URL)
    assert response.status_code == 302 and "/admin/login/" in response.url
    response = client.post(IMPORT_URL, {"file": upload("chat_full.yml"), "workspace": acme.id})
    assert not App.objects.exists()


def test_export_link_downloads_the_yaml(admin_client, acme):
    app = imported(acme, "advanced_chat_full.yml")
    response = admin_client.get(f"/admin/apps_runtime/app/{app.pk}/export-dsl/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-yaml")
    assert response["Content-Disposition"] == 'attachment; filename="full-chatflow.yml"'
    assert response.content.decode() == (FIXTURES / "advanced_chat_full.yml").read_text(
        encoding="utf-8"
    )
    change = admin_client.get(f"/admin/apps_runtime/app/{app.pk}/change/").content.decode()
    assert f"/admin/apps_runtime/app/{app.pk}/export-dsl/" in change
    missing = admin_client.get(
        "/admin/apps_runtime/app/00000000-0000-0000-0000-000000000000/export-dsl/"
    )
    assert missing.status_code == 404


def test_export_action_downloads_one_file_or_a_zip(admin_client, acme):
    chat = imported(acme, "chat_full.yml")
    flow = imported(acme, "workflow_full.yml")
    one = admin_client.post(CHANGELIST, {"action": "export_dsl", "_selected_action": [chat.pk]})
    assert one["Content-Disposition"] == 'attachment; filename="full-chat.yml"'
    assert one.content.decode() == app_export_dsl(chat)
    both = admin_client.post(
        CHANGELIST, {"action": "export_dsl", "_selected_action": [chat.pk, flow.pk]}
    )
    assert both["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(both.content))
    assert sorted(archive.namelist()) == sorted(
        [f"{chat.id}-full-chat.yml", f"{flow.id}-full-workflow.yml"]
    )
    assert archive.read(f"{flow.id}-full-workflow.yml").decode() == app_export_dsl(flow)


def test_service_api_toggle_actions(admin_client, acme):
    chat = imported(acme, "chat_full.yml")
    flow = imported(acme, "workflow_full.yml")
    response = admin_client.post(
        CHANGELIST,
        {"action": "disable_service_api", "_selected_action": [chat.pk, flow.pk]},
        follow=True,
    )
    assert "Service API turned off for 2 app(s)." in messages_of(response)
    assert list(App.objects.values_list("enable_api", flat=True)) == [False, False]
    admin_client.post(CHANGELIST, {"action": "enable_service_api", "_selected_action": [chat.pk]})
    chat.refresh_from_db()
    flow.refresh_from_db()
    assert (chat.enable_api, flow.enable_api) == (True, False)
    assert AuditEvent.objects.filter(action="app.updated").count() == 3


@pytest.mark.parametrize(
    ("action", "mode"),
    [
        ("set_access_public", "public"),
        ("set_access_sso_verified", "sso_verified"),
        ("set_access_private", "private"),
    ],
)
def test_access_mode_actions(admin_client, acme, action, mode):
    app = imported(acme, "chat_full.yml")
    admin_client.post(CHANGELIST, {"action": action, "_selected_action": [app.pk]})
    app.refresh_from_db()
    assert app.access_mode == mode


def test_changelist_filters(admin_client, acme, charlie):
    imported(acme, "chat_full.yml")
    flow = imported(acme, "workflow_full.yml")
    services.app_add_tags(app=flow, names=["ops"])
    by_mode = admin_client.get(CHANGELIST, {"mode": "workflow"})
    assert [a.name for a in by_mode.context["cl"].result_list] == ["Full Workflow"]
    by_tag = admin_client.get(CHANGELIST, {"tag": "ops"})
    assert [a.name for a in by_tag.context["cl"].result_list] == ["Full Workflow"]
    by_status = admin_client.get(CHANGELIST, {"status__exact": "archived"})
    assert list(by_status.context["cl"].result_list) == []
    other_ws = charlie.memberships.get().workspace
    by_ws = admin_client.get(CHANGELIST, {"workspace__id__exact": str(other_ws.id)})
    assert list(by_ws.context["cl"].result_list) == []


def test_change_form_edits_and_restricts_tags_to_the_workspace(admin_client, acme, charlie):
    app = imported(acme, "chat_full.yml")
    own = Tag.objects.create(workspace=acme, name="mine")
    foreign = Tag.objects.create(workspace=charlie.memberships.get().workspace, name="theirs")
    url = f"/admin/apps_runtime/app/{app.pk}/change/"
    page = admin_client.get(url)
    assert "Full Chat" in page.content.decode()
    assert "&quot;pre_prompt&quot;" in page.content.decode()  # model_config shown as JSON
    data = {
        "name": "Renamed",
        "description": app.description,
        "icon": app.icon,
        "icon_type": app.icon_type,
        "icon_background": app.icon_background,
        "enable_api": "",
        "status": "archived",
        "access_mode": "public",
        "tags": [str(foreign.id)],
    }
    rejected = admin_client.post(url, data)
    assert rejected.status_code == 200 and rejected.context["adminform"].form.errors["tags"]
    data["tags"] = [str(own.id)]
    saved = admin_client.post(url, data)
    assert saved.status_code == 302
    app.refresh_from_db()
    assert (app.name, app.enable_api, app.status, app.access_mode) == (
        "Renamed",
        False,
        "archived",
        "public",
    )
    assert list(app.tags.all()) == [own]
    event = AuditEvent.objects.get(action="app.updated")
    # One record for the whole edit, each change with its before and after.
    assert event.actor_type == "admin"
    assert event.details["changes"] == {
        "name": {"before": "Full Chat", "after": "Renamed"},
        "enable_api": {"before": True, "after": False},
        "status": {"before": "normal", "after": "archived"},
        "access_mode": {"before": "private_all", "after": "public"},
        "tags": {"before": [], "after": ["mine"]},
    }


def test_publish_action_publishes_a_draft(admin_client, acme):
    app = imported(acme, "workflow_full.yml")
    first = app.published_workflow
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    draft.features = {**draft.features, "opening_statement": "new"}
    draft.save()
    response = admin_client.post(
        "/admin/apps_runtime/workflowversion/",
        {"action": "publish_drafts", "_selected_action": [draft.pk]},
        follow=True,
    )
    app.refresh_from_db()
    assert app.published_workflow != first
    assert app.published_workflow is not None
    assert app.published_workflow.features["opening_statement"] == "new"
    assert any(m.startswith("Published Full Workflow as version") for m in messages_of(response))

    again = admin_client.post(
        "/admin/apps_runtime/workflowversion/",
        {"action": "publish_drafts", "_selected_action": [app.published_workflow.pk]},
        follow=True,
    )
    assert any("only a draft can be published" in m for m in messages_of(again))
    assert WorkflowVersion.objects.filter(app=app).count() == 3


def test_workflow_versions_are_read_only_with_a_pretty_graph(admin_client, acme):
    app = imported(acme, "workflow_full.yml")
    version = app.published_workflow
    assert version is not None
    url = f"/admin/apps_runtime/workflowversion/{version.pk}/change/"
    page = admin_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<pre" in html and "&quot;nodes&quot;: [" in html
    assert "published (used by runs)" in html
    assert '<div class="readonly">knowledge-retrieval</div>' in html
    assert 'name="graph"' not in html  # no editable field
    before = version.graph
    admin_client.post(url, {"graph": "{}"})
    version.refresh_from_db()
    assert version.graph == before
    listing = admin_client.get("/admin/apps_runtime/workflowversion/").content.decode()
    assert "draft" in listing


def test_secret_values_are_masked_in_the_version_page(admin_client, acme):
    doc = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    doc["workflow"]["environment_variables"][1]["value"] = "sk-hidden-value"
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app
    assert app.published_workflow is not None
    page = admin_client.get(
        f"/admin/apps_runtime/workflowversion/{app.published_workflow.pk}/change/"
    )
    assert "sk-hidden-value" not in page.content.decode()


def test_tag_admin_lists_counts(admin_client, acme):
    app = imported(acme, "chat_full.yml")
    services.app_add_tags(app=app, names=["demo"])
    page = admin_client.get("/admin/apps_runtime/tag/")
    assert page.status_code == 200
    row = page.context["cl"].result_list[0]
    assert (row.name, row.app_total) == ("demo", 1)


def test_tag_filter_lists_each_name_once(admin_client, acme, charlie):
    other = charlie.memberships.get().workspace
    mine = imported(acme, "chat_full.yml")
    theirs = imported(other, "workflow_full.yml")
    services.app_add_tags(app=mine, names=["workflow"])
    services.app_add_tags(app=theirs, names=["workflow", "ops"])
    page = admin_client.get(CHANGELIST)
    tag_filter = next(f for f in page.context["cl"].filter_specs if f.title == "tag")
    assert [choice["display"] for choice in tag_filter.choices(page.context["cl"])] == [
        "All",
        "ops",
        "workflow",
    ]
    both = admin_client.get(CHANGELIST, {"tag": "workflow"}).context["cl"].result_list
    assert sorted(a.name for a in both) == ["Full Chat", "Full Workflow"]


def test_workflow_versions_are_named_by_date(admin_client, acme):
    app = imported(acme, "workflow_full.yml")
    published = app.published_workflow
    assert published is not None and published.published_at is not None
    label = published.published_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    listing = admin_client.get("/admin/apps_runtime/workflowversion/").content.decode()
    assert label in listing and published.version not in listing
    form = admin_client.get(f"{CHANGELIST}{app.pk}/change/").content.decode()
    assert label in form and published.version not in form
