"""Import and export through the services: full-shape files of every mode round-trip unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from accounts.audit import Actor
from accounts.models import AuditEvent
from apps_runtime import services
from apps_runtime.demo import demo_app_path
from apps_runtime.dsl import (
    DslError,
    app_export_dsl,
    app_unsupported_node_types,
    workflow_unsupported_node_types,
)
from apps_runtime.models import WORKFLOW_MODES, App, AppModelConfig, WorkflowVersion

TEST_ACTOR = Actor.operator("pytest")

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"
FULL_SHAPES = {
    "workflow": "workflow_full.yml",
    "advanced-chat": "advanced_chat_full.yml",
    "chat": "chat_full.yml",
    "completion": "completion_full.yml",
    "agent-chat": "agent_chat_full.yml",
}


def snapshot(app: App) -> dict[str, Any]:
    """Everything an import stores about an app, minus ids and dates."""
    app = App.objects.get(pk=app.pk)
    data: dict[str, Any] = {
        field: getattr(app, field)
        for field in ("mode", "name", "description", "icon", "icon_type", "icon_background")
    }
    data["dsl_extra"] = app.dsl_extra
    if app.mode in WORKFLOW_MODES:
        assert app.published_workflow is not None
        published = app.published_workflow
        draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
        blocks = [
            {
                field: getattr(version, field)
                for field in (
                    "graph",
                    "features",
                    "environment_variables",
                    "conversation_variables",
                    "extra",
                )
            }
            for version in (published, draft)
        ]
        assert blocks[0] == blocks[1], "the draft is a copy of the published version"
        data["workflow"] = blocks[0]
    else:
        data["model_config"] = AppModelConfig.objects.get(app=app).config
    return data


def import_file(workspace, filename: str, **kwargs: Any) -> services.ImportResult:
    return services.app_import_dsl(
        actor=TEST_ACTOR,
        workspace=workspace,
        yaml_text=(FIXTURES / filename).read_text(encoding="utf-8"),
        **kwargs,
    )


@pytest.mark.parametrize("mode", list(FULL_SHAPES))
def test_full_shape_export_writes_back_the_file_byte_for_byte(acme, alice, mode):
    text = (FIXTURES / FULL_SHAPES[mode]).read_text(encoding="utf-8")
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=text, author=alice
    ).app
    assert app.mode == mode
    assert app_export_dsl(app) == text


@pytest.mark.parametrize("mode", list(FULL_SHAPES))
def test_full_shape_export_then_import_gives_an_equal_app(acme, mode):
    first = import_file(acme, FULL_SHAPES[mode]).app
    second = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=app_export_dsl(first)
    ).app
    assert second.pk != first.pk
    assert snapshot(second) == snapshot(first)
    assert app_export_dsl(second) == app_export_dsl(first)


def test_import_stores_the_blocks_verbatim(acme, alice):
    source = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    result = import_file(acme, "workflow_full.yml", author=alice)
    app = App.objects.get(pk=result.app.pk)
    assert (app.workspace, app.author, app.name) == (acme, alice, "Full Workflow")
    assert app.enable_api is True and app.status == App.Status.NORMAL
    published = app.published_workflow
    assert published is not None and not published.is_draft and published.published_at
    assert published.graph == source["workflow"]["graph"]
    assert published.features == source["workflow"]["features"]
    assert published.extra == {"rag_pipeline_variables": []}
    assert app.dsl_extra["dependencies"] == source["dependencies"]
    assert [v["variable"] for v in published.start_variables()] == [
        "name",
        "notes",
        "tone",
        "count",
        "shout",
        "attachment",
        "images",
        "payload",
    ]
    assert WorkflowVersion.objects.filter(app=app).count() == 2
    assert result.warnings == [
        "the engine cannot run node type(s) knowledge-retrieval; runs of this app "
        "answer app_unavailable until it can"
    ]
    event = AuditEvent.objects.get(action="app.imported")
    assert event.details["app_id"] == str(app.id) and event.account == alice


def test_prompt_app_import_stores_model_config(acme):
    source = yaml.safe_load((FIXTURES / "chat_full.yml").read_text(encoding="utf-8"))
    app = import_file(acme, "chat_full.yml").app
    assert app.model_config.config == source["model_config"]
    assert app.published_workflow is None
    assert not WorkflowVersion.objects.filter(app=app).exists()
    assert app_unsupported_node_types(app) == []


def test_name_argument_overrides_the_file(acme):
    app = import_file(acme, "chat_full.yml", name="  Renamed  ").app
    assert app.name == "Renamed"
    assert yaml.safe_load(app_export_dsl(app))["app"]["name"] == "Renamed"


def test_unknown_keys_survive_export(acme):
    doc = yaml.safe_load((FIXTURES / "advanced_chat_full.yml").read_text(encoding="utf-8"))
    doc["x_top_level"] = {"nested": [1, "two", None]}
    doc["app"]["x_app_key"] = True
    doc["workflow"]["x_workflow_key"] = "kept"
    doc["workflow"]["graph"]["nodes"][0]["x_node_key"] = {"ui": 1}
    doc["workflow"]["graph"]["x_graph_key"] = []
    doc["dependencies"].append({"type": "package", "value": {"plugin_unique_identifier": "a/b:1"}})
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app
    assert yaml.safe_load(app_export_dsl(app)) == doc


def test_minimal_file_gets_dify_defaults_once(acme):
    text = (
        "app: {name: Tiny, mode: advanced-chat}\n"
        "workflow:\n  graph:\n    nodes:\n"
        "    - {id: s, data: {type: start}}\n    - {id: a, data: {type: answer, answer: hi}}\n"
        "    edges: [{source: s, target: a}]\n"
    )
    first = services.app_import_dsl(actor=TEST_ACTOR, workspace=acme, yaml_text=text)
    exported = yaml.safe_load(app_export_dsl(first.app))
    assert exported["kind"] == "app" and exported["version"] == "0.1.0"
    assert exported["dependencies"] == []
    assert exported["app"] == {
        "name": "Tiny",
        "mode": "advanced-chat",
        "description": "",
        "icon": "",
        "icon_type": "emoji",
        "icon_background": "#FFFFFF",
        "use_icon_as_answer_icon": False,
    }
    assert exported["workflow"]["features"] == {}
    second = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=app_export_dsl(first.app)
    ).app
    assert snapshot(second) == snapshot(first.app)


def test_secret_environment_values_are_blanked_unless_asked(acme):
    doc = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    doc["workflow"]["environment_variables"][1]["value"] = "sk-very-secret"
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app

    def secret(text: str) -> str:
        variables = yaml.safe_load(text)["workflow"]["environment_variables"]
        return next(v["value"] for v in variables if v["name"] == "API_KEY")

    assert secret(app_export_dsl(app)) == ""
    assert "sk-very-secret" not in app_export_dsl(app)
    assert secret(app_export_dsl(app, include_secrets=True)) == "sk-very-secret"


def test_secret_environment_values_are_encrypted_at_rest(acme, settings):
    from cryptography.fernet import Fernet
    from django.db import connection

    doc = yaml.safe_load((FIXTURES / "workflow_full.yml").read_text(encoding="utf-8"))
    doc["workflow"]["environment_variables"][1]["value"] = "sk-at-rest"
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app
    table = WorkflowVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT environment_variables FROM {table} WHERE app_id = %s",
            [app.id.hex if connection.vendor == "sqlite" else app.id],
        )
        rows = [str(row[0]) for row in cursor.fetchall()]
    assert len(rows) == 2 and all("sk-at-rest" not in row and "enc:v1:" in row for row in rows)
    assert "sk-at-rest" in app_export_dsl(app, include_secrets=True)
    # Another key cannot read it.
    settings.SECRETS_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(DslError, match="cannot be decrypted"):
        app_export_dsl(app, include_secrets=True)


@pytest.mark.parametrize("filename", sorted(p.name for p in (FIXTURES / "broken").glob("*.yml")))
def test_a_broken_file_leaves_nothing_behind(acme, filename):
    with pytest.raises(DslError):
        import_file(acme, f"broken/{filename}")
    assert not App.objects.exists()
    assert not AuditEvent.objects.filter(action="app.imported").exists()


def test_a_failure_inside_the_transaction_rolls_everything_back(acme, monkeypatch):
    original = WorkflowVersion.objects.create

    def create(**kwargs: Any) -> WorkflowVersion:
        if kwargs.get("version") == WorkflowVersion.DRAFT:
            raise RuntimeError("disk full")
        return original(**kwargs)

    monkeypatch.setattr(WorkflowVersion.objects, "create", create)
    with pytest.raises(RuntimeError):
        import_file(acme, "workflow_full.yml")
    assert not App.objects.exists()
    assert not WorkflowVersion.objects.exists()


def test_empty_name_needs_a_name(acme):
    text = "app: {mode: chat}\nversion: 0.6.0\nmodel_config: {pre_prompt: ''}\n"
    with pytest.raises(DslError, match="the app has no name"):
        services.app_import_dsl(actor=TEST_ACTOR, workspace=acme, yaml_text=text)
    assert (
        services.app_import_dsl(
            actor=TEST_ACTOR, workspace=acme, yaml_text=text, name="Named"
        ).app.name
        == "Named"
    )


def test_unsupported_node_types_follow_the_version_a_run_uses(acme):
    app = import_file(acme, "advanced_chat_full.yml").app
    expected = ["knowledge-retrieval"]
    assert app_unsupported_node_types(app) == expected

    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    echo_chat = yaml.safe_load(demo_app_path("echo_chat.yml").read_text(encoding="utf-8"))
    draft.graph = echo_chat["workflow"]["graph"]
    draft.save()
    assert workflow_unsupported_node_types(draft) == []
    assert app_unsupported_node_types(app, draft) == []
    old = app.published_workflow
    services.workflow_publish_draft(actor=TEST_ACTOR, draft=draft)
    app.refresh_from_db()
    assert app_unsupported_node_types(app) == []
    assert old is not None and app_unsupported_node_types(app, old) == expected


def test_publish_copies_the_draft_and_repoints_the_app(acme):
    app = import_file(acme, "workflow_full.yml").app
    first = app.published_workflow
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    draft.features = {**draft.features, "opening_statement": "changed in the draft"}
    draft.save()
    published = services.workflow_publish_draft(draft=draft, actor=Actor.admin("ops@example.com"))
    app.refresh_from_db()
    assert app.published_workflow == published != first
    assert published.features["opening_statement"] == "changed in the draft"
    assert published.graph == draft.graph and published.published_at is not None
    assert WorkflowVersion.objects.filter(app=app).count() == 3
    assert WorkflowVersion.objects.filter(app=app, version=WorkflowVersion.DRAFT).count() == 1
    assert AuditEvent.objects.filter(action="workflow.published").count() == 1

    with pytest.raises(services.PublishError, match="only a draft can be published"):
        services.workflow_publish_draft(actor=TEST_ACTOR, draft=published)


def test_publish_refuses_a_draft_a_run_could_not_follow(acme):
    app = import_file(acme, "workflow_full.yml").app
    before = app.published_workflow
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    draft.graph = {**draft.graph, "edges": []}
    draft.save()
    with pytest.raises(services.PublishError, match="no path from the start node to an end node"):
        services.workflow_publish_draft(actor=TEST_ACTOR, draft=draft)
    app.refresh_from_db()
    assert app.published_workflow == before


def test_export_of_a_named_version_and_of_a_foreign_one(acme):
    app = import_file(acme, "workflow_full.yml").app
    other = import_file(acme, "advanced_chat_full.yml").app
    draft = WorkflowVersion.objects.get(app=app, version=WorkflowVersion.DRAFT)
    draft.features = {"opening_statement": "draft only"}
    draft.save()
    assert yaml.safe_load(app_export_dsl(app))["workflow"]["features"] == draft.features
    published = yaml.safe_load(app_export_dsl(app, workflow=app.published_workflow))
    assert published["workflow"]["features"]["opening_statement"] == ""
    with pytest.raises(DslError, match="does not belong to app"):
        app_export_dsl(app, workflow=other.published_workflow)


def test_service_switches_record_who_changed_what(acme):
    app = import_file(acme, "chat_full.yml").app
    assert services.app_set_enable_api(app=app, enabled=False, actor=Actor.admin("ops@example.com"))
    assert not services.app_set_enable_api(actor=TEST_ACTOR, app=app, enabled=False)
    assert services.app_set_access_mode(actor=TEST_ACTOR, app=app, access_mode="public")
    with pytest.raises(ValueError, match="unknown access mode"):
        services.app_set_access_mode(actor=TEST_ACTOR, app=app, access_mode="everyone")
    app.refresh_from_db()
    assert (app.enable_api, app.access_mode) == (False, "public")
    changes = AuditEvent.objects.filter(action="app.updated").order_by("id")
    assert [list(e.details["changes"]) for e in changes] == [["enable_api"], ["access_mode"]]
    assert changes[0].actor_email == "ops@example.com"


def test_tags_are_per_workspace(acme, charlie):
    app = import_file(acme, "chat_full.yml").app
    tags = services.app_add_tags(app=app, names=["demo", " chat ", ""])
    assert sorted(t.name for t in app.tags.all()) == ["chat", "demo"]
    assert all(t.workspace_id == acme.id for t in tags)
    services.app_add_tags(app=app, names=["demo"])
    assert app.tags.count() == 2


def test_yaml_anchors_are_expanded_and_never_written(acme):
    text = (
        "app: {name: Anchors, mode: chat}\nversion: 0.6.0\n"
        "shared: &params {temperature: 0.5}\n"
        "model_config:\n  pre_prompt: hi\n"
        "  model: {provider: p, name: m, completion_params: *params}\n"
    )
    app = services.app_import_dsl(actor=TEST_ACTOR, workspace=acme, yaml_text=text).app
    exported = app_export_dsl(app)
    assert "&" not in exported and "*" not in exported
    data = yaml.safe_load(exported)
    assert data["model_config"]["model"]["completion_params"] == {"temperature": 0.5}
    assert data["shared"] == {"temperature": 0.5}
