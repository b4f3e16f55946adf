"""Demo apps: the DSL files in ``demo_apps/`` import cleanly, ``seed_demo`` adds them once, and an
edited copy of a demo file imports with the edits (nothing depends on the files' exact content)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from accounts.audit import Actor
from apps_runtime import services
from apps_runtime.demo import DEMO_APPS, DEMO_APPS_DIR, SHARED_APPS
from apps_runtime.dsl import app_export_dsl, app_unsupported_node_types
from apps_runtime.models import App, AppMode
from workspaces.models import Workspace

TEST_ACTOR = Actor.operator("pytest")

DEMO_FILES = sorted(DEMO_APPS_DIR.glob("*.yml"))


def load(name: str) -> dict:
    return yaml.safe_load((DEMO_APPS_DIR / name).read_text(encoding="utf-8"))


def start_node(doc: dict) -> dict:
    return next(n for n in doc["workflow"]["graph"]["nodes"] if n["data"]["type"] == "start")


def test_every_demo_file_is_seeded():
    assert sorted(spec.filename for spec in DEMO_APPS) == [p.name for p in DEMO_FILES]


@pytest.mark.parametrize("path", DEMO_FILES, ids=lambda p: p.name)
def test_demo_file_imports_without_warnings_and_round_trips(acme, path: Path):
    text = path.read_text(encoding="utf-8")
    result = services.app_import_dsl(actor=TEST_ACTOR, workspace=acme, yaml_text=text)
    assert result.warnings == []
    assert result.app.description
    assert app_unsupported_node_types(result.app) == []
    assert app_export_dsl(result.app) == text


def test_demo_apps_have_the_promised_shapes(acme):
    echo_chat = load("echo_chat.yml")
    assert echo_chat["app"]["mode"] == AppMode.ADVANCED_CHAT
    answers = [
        n["data"] for n in echo_chat["workflow"]["graph"]["nodes"] if n["data"]["type"] == "answer"
    ]
    assert [a["answer"] for a in answers] == ["echo: {{#sys.query#}}"]

    variables = {
        v["variable"]: v for v in start_node(load("echo_workflow.yml"))["data"]["variables"]
    }
    assert variables["x"]["type"] == "text-input" and variables["x"]["required"] is True
    assert variables["num"]["type"] == "number"
    assert variables["enum_var"]["options"] == ["A", "B", "C"]
    assert (variables["paragraph"]["type"], variables["paragraph"]["max_length"]) == (
        "paragraph",
        100,
    )

    support = load("support_bot.yml")["model_config"]
    assert support["model"]["provider"] == "langgenius/openai_api_compatible/openai_api_compatible"
    assert support["pre_prompt"] and support["opening_statement"]
    assert len(support["suggested_questions"]) >= 2 and len(support["user_input_form"]) >= 2

    approval = load("approval_request.yml")["workflow"]["graph"]
    hitl = next(n for n in approval["nodes"] if n["data"]["type"] == "human-input")
    actions = [a["id"] for a in hitl["data"]["user_actions"]]
    assert actions == ["approve", "reject", "escalate"]
    assert hitl["data"]["inputs"][0]["type"] == "paragraph"
    handles = {e["sourceHandle"] for e in approval["edges"] if e["source"] == hitl["id"]}
    assert {"approve", "reject", "escalate", "__timeout"} <= handles


def test_seed_demo_imports_once_with_tags_and_access_modes(db):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    demo = Workspace.objects.get(name="Demo")
    shared = Workspace.objects.get(name="Shared Team")
    apps = {app.name: app for app in App.objects.filter(workspace=demo)}
    assert set(apps) == {
        "Echo Chat",
        "Echo Workflow",
        "Support Bot",
        "Approval Request",
        "Quick Confirm",
        "Two-Step Approval",
        "Emailed Review",
    }
    assert all(app.author and app.author.email == "demo@example.com" for app in apps.values())
    assert sorted(t.name for t in apps["Echo Chat"].tags.all()) == ["chat", "demo"]
    assert sorted(t.name for t in apps["Approval Request"].tags.all()) == [
        "demo",
        "human-input",
        "workflow",
    ]
    assert apps["Echo Chat"].access_mode == App.AccessMode.PUBLIC
    assert apps["Echo Workflow"].access_mode == App.AccessMode.SSO_VERIFIED
    assert apps["Support Bot"].access_mode == App.AccessMode.PRIVATE_ALL
    assert App.objects.filter(workspace=shared).count() == len(SHARED_APPS)
    for app in apps.values():
        assert f"app {app.name} ({app.mode}) in Demo: {app.id}" in out.getvalue()

    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert App.objects.count() == len(DEMO_APPS) + len(SHARED_APPS)
    assert f"app Echo Chat (advanced-chat) in Demo: {apps['Echo Chat'].id} (exists)" in (
        again.getvalue()
    )


def test_edited_demo_workflow_stores_the_edits(acme):
    doc = load("echo_workflow.yml")
    doc["app"]["name"] = "Edited Echo"
    variables = start_node(doc)["data"]["variables"]
    for variable in variables:
        if variable["variable"] == "x":
            variable["variable"] = "text_in"
        if variable["type"] == "paragraph":
            variable["max_length"] = 12
        if variable["type"] == "select":
            variable["options"] = ["red", "green"]
    variables.append({"variable": "extra", "label": "Extra", "type": "number", "required": True})
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app
    assert app.published_workflow is not None
    stored = {v["variable"]: v for v in app.published_workflow.start_variables()}
    assert list(stored) == ["text_in", "num", "enum_var", "paragraph", "extra"]
    assert stored["paragraph"]["max_length"] == 12
    assert stored["enum_var"]["options"] == ["red", "green"]
    assert stored["extra"]["required"] is True
    assert app.name == "Edited Echo"


def test_edited_demo_chat_stores_the_edits(acme):
    doc = load("support_bot.yml")
    config = doc["model_config"]
    config["model"]["name"] = "llama-3.1-8b"
    config["pre_prompt"] = "You are terse."
    config["user_input_form"] = [
        {"paragraph": {"variable": "issue", "label": "Issue", "required": True, "max_length": 500}},
    ]
    app = services.app_import_dsl(
        actor=TEST_ACTOR, workspace=acme, yaml_text=yaml.safe_dump(doc)
    ).app
    stored = app.model_config
    assert stored.model["name"] == "llama-3.1-8b"
    assert stored.pre_prompt == "You are terse."
    assert stored.user_input_form == config["user_input_form"]
