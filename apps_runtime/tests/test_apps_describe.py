"""``GET /openapi/v1/apps/{app_id}/describe`` and ``GET /apps/{app_id}`` (contract §5.14)."""

from __future__ import annotations

import itertools
import uuid
from urllib.parse import quote

import pytest

from apps_runtime.describe import TOGGLE_FEATURES
from apps_runtime.models import App, AppMode
from apps_runtime.tests.factories import (
    AppFactory,
    WorkspaceFactory,
    form_row,
    make_prompt_app,
    make_workflow_app,
    start_variable,
)
from conftest import assert_envelope

FIELDS = ("info", "parameters", "input_schema")
SYSTEM_PARAMETERS = {
    "image_file_size_limit",
    "video_file_size_limit",
    "audio_file_size_limit",
    "file_size_limit",
    "workflow_file_upload_limit",
}
PARAMETER_KEYS = {
    "opening_statement",
    "suggested_questions",
    *TOGGLE_FEATURES,
    "user_input_form",
    "sensitive_word_avoidance",
    "file_upload",
    "system_parameters",
}


def url(app_or_id, suffix="/describe"):
    app_id = app_or_id.id if isinstance(app_or_id, App) else app_or_id
    return f"/openapi/v1/apps/{app_id}{suffix}"


@pytest.fixture
def client(alice, api, token_for):
    return api(token_for(alice))


@pytest.fixture
def echo_workflow(acme, alice):
    return make_workflow_app(
        acme,
        name="Echo Workflow",
        description="echoes its inputs",
        author=alice,
        tags=["demo"],
        variables=[
            start_variable("x", "text-input", label="X", required=True, max_length=48),
            start_variable("num", "number", default=3),
            start_variable("enum_var", "select", options=["A", "B", "C"], default="A"),
            start_variable("paragraph", "paragraph", max_length=100, required=None),
        ],
        features={
            "opening_statement": "",
            "suggested_questions": [],
            "text_to_speech": {"enabled": False, "voice": "", "language": ""},
            "file_upload": {
                "enabled": True,
                "allowed_file_types": ["image"],
                "allowed_file_upload_methods": ["remote_url"],
                "number_limits": 2,
            },
            "retriever_resource": {"enabled": True},
        },
    )


def test_describe_everything(client, echo_workflow, acme):
    response = client.get(url(echo_workflow))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(FIELDS)
    echo_workflow.refresh_from_db()
    assert body["info"] == {
        "id": str(echo_workflow.id),
        "name": "Echo Workflow",
        "mode": "workflow",
        "description": "echoes its inputs",
        "tags": [{"name": "demo"}],
        "author": "Alice",
        "updated_at": echo_workflow.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_api_enabled": True,
        "is_agent": False,
        "blocking_nodes": [],
        "tool_providers": [],
    }
    assert set(body["parameters"]) == PARAMETER_KEYS
    assert body["input_schema"]["properties"]["inputs"]["required"] == ["x"]


def test_alias_path_answers_the_same(client, echo_workflow):
    assert client.get(url(echo_workflow, "")).json() == client.get(url(echo_workflow)).json()


def test_colon_verb_is_not_describe(client, echo_workflow):
    assert_envelope(client.get(url(echo_workflow, ":run")), 404)


@pytest.mark.parametrize("mode", [m.value for m in AppMode])
def test_is_agent(client, acme, mode):
    app = AppFactory(workspace=acme, mode=mode)
    info = client.get(url(app), {"fields": "info"}).json()["info"]
    assert info["mode"] == mode
    assert info["is_agent"] is (mode in ("agent-chat", "advanced-chat"))


SUBSETS = [c for n in (1, 2, 3) for c in itertools.combinations(FIELDS, n)]


@pytest.mark.parametrize("subset", SUBSETS, ids=[",".join(s) for s in SUBSETS])
def test_each_fields_combination(client, echo_workflow, subset):
    body = client.get(url(echo_workflow), {"fields": ",".join(reversed(subset))}).json()
    assert set(body) == set(FIELDS)
    for field in FIELDS:
        assert (body[field] is not None) is (field in subset), field


@pytest.mark.parametrize("value", ["", " ", ",", " info , info ,"])
def test_fields_spacing_blanks_and_repeats(client, echo_workflow, value):
    body = client.get(url(echo_workflow), {"fields": value}).json()
    expected = {"info"} if "info" in value else set(FIELDS)
    assert {k for k, v in body.items() if v is not None} == expected


def test_repeated_fields_parameter_keeps_the_first(client, echo_workflow):
    body = client.get(url(echo_workflow) + "?fields=info&fields=parameters").json()
    assert body["info"] is not None and body["parameters"] is None


@pytest.mark.parametrize("value", ["bogus", "info,bogus", "INFO", "info;parameters"])
def test_unknown_field_is_422(client, echo_workflow, value):
    body = assert_envelope(
        client.get(url(echo_workflow), {"fields": value}), 422, code="invalid_param"
    )
    assert "unknown field(s): [" in body["message"]
    assert body["details"][0]["loc"] == ["fields"]


@pytest.mark.parametrize("query", ["fields[]=info", "fields%5B%5D=info", "colour=blue", "page=1"])
def test_array_syntax_and_unknown_parameters_are_422(client, echo_workflow, query):
    body = assert_envelope(client.get(f"{url(echo_workflow)}?{query}"), 422, code="invalid_param")
    assert body["details"][0]["type"] == "extra_forbidden"


# -- parameters --------------------------------------------------------------------------------


def test_workflow_parameters(client, echo_workflow):
    params = client.get(url(echo_workflow), {"fields": "parameters"}).json()["parameters"]
    assert params["opening_statement"] == ""
    assert params["suggested_questions"] == []
    assert params["retriever_resource"] == {"enabled": True}
    assert params["text_to_speech"] == {"enabled": False, "voice": "", "language": ""}
    for missing in (
        "suggested_questions_after_answer",
        "speech_to_text",
        "annotation_reply",
        "more_like_this",
    ):
        assert params[missing] == {"enabled": False}, missing
    assert params["sensitive_word_avoidance"]["enabled"] is False
    assert params["file_upload"]["enabled"] is True
    assert params["file_upload"]["number_limits"] == 2
    assert set(params["system_parameters"]) == SYSTEM_PARAMETERS
    assert all(isinstance(v, int) for v in params["system_parameters"].values())
    form = params["user_input_form"]
    assert [list(row) for row in form] == [["text-input"], ["number"], ["select"], ["paragraph"]]
    x, num, enum_var, paragraph = (next(iter(row.values())) for row in form)
    assert (x["variable"], x["label"], x["required"], x["max_length"]) == ("x", "X", True, 48)
    assert (num["variable"], num["required"], num["default"]) == ("num", False, 3)
    assert (enum_var["options"], enum_var["default"]) == (["A", "B", "C"], "A")
    assert paragraph["required"] is False and paragraph["max_length"] == 100
    assert all(isinstance(next(iter(r.values()))["required"], bool) for r in form)


def test_prompt_app_parameters(client, acme):
    app = make_prompt_app(
        acme,
        mode=AppMode.CHAT,
        form=[
            form_row("topic", "text-input", label="Topic", required=True, max_length=30),
            form_row("tone", "select", options=["calm", "loud"], required="false"),
        ],
        config={
            "opening_statement": "Hi! Ask me anything.",
            "suggested_questions": ["What can you do?", 7],
            "suggested_questions_after_answer": {"enabled": True},
            "speech_to_text": None,
            "more_like_this": {"enabled": False},
            "sensitive_word_avoidance": {
                "enabled": True,
                "type": "keywords",
                "config": {"keywords": "bad"},
            },
        },
    )
    params = client.get(url(app), {"fields": "parameters"}).json()["parameters"]
    assert set(params) == PARAMETER_KEYS
    assert params["opening_statement"] == "Hi! Ask me anything."
    assert params["suggested_questions"] == ["What can you do?"]
    assert params["suggested_questions_after_answer"] == {"enabled": True}
    assert params["speech_to_text"] == {"enabled": False}
    assert params["retriever_resource"] == {"enabled": False}
    assert params["sensitive_word_avoidance"]["type"] == "keywords"
    assert params["file_upload"]["enabled"] is False
    assert params["user_input_form"] == [
        {
            "text-input": {
                "variable": "topic",
                "label": "Topic",
                "required": True,
                "max_length": 30,
                "options": [],
            }
        },
        {
            "select": {
                "variable": "tone",
                "label": "Tone",
                "required": False,
                "max_length": 48,
                "options": ["calm", "loud"],
            }
        },
    ]


FALLBACK = {
    "opening_statement": None,
    "suggested_questions": [],
    "user_input_form": [],
    "file_upload": None,
    "system_parameters": {},
}


@pytest.mark.parametrize("kind", ["chat_without_config", "workflow_draft_only", "channel"])
def test_reduced_fallback_parameters(client, acme, kind):
    app = {
        "chat_without_config": lambda: AppFactory(workspace=acme, mode=AppMode.CHAT),
        "workflow_draft_only": lambda: make_workflow_app(acme, published=False),
        "channel": lambda: AppFactory(workspace=acme, mode=AppMode.CHANNEL),
    }[kind]()
    assert client.get(url(app), {"fields": "parameters"}).json()["parameters"] == FALLBACK


def test_info_names_the_nodes_that_block_a_run(client, acme, api, sso_token):
    app = make_workflow_app(acme)
    version = app.published_workflow
    version.graph["nodes"][1:1] = [
        {"id": "note", "type": "custom-note", "data": {"type": ""}},
        {"id": "kb", "data": {"type": "knowledge-retrieval"}},
        {"id": "qc", "data": {"type": "question-classifier", "title": "Route"}},
    ]
    version.save()
    info = client.get(url(app), {"fields": "info"}).json()["info"]
    assert info["blocking_nodes"] == [
        {"node_id": "kb", "node_type": "knowledge-retrieval", "title": "kb"},
    ]
    # A draft is not what a run uses: only the published version counts.
    app.workflow_versions.create(
        version="draft", graph={"nodes": [{"id": "t", "data": {"type": "tool"}}]}
    )
    assert (
        client.get(url(app), {"fields": "info"}).json()["info"]["blocking_nodes"]
        == info["blocking_nodes"]
    )


def test_parameters_use_the_published_version_not_the_draft(client, acme):
    app = make_workflow_app(acme, variables=[start_variable("published_input")])
    make_draft = app.workflow_versions.create(
        version="draft",
        graph={
            "nodes": [
                {"id": "s", "data": {"type": "start", "variables": [start_variable("draft_input")]}}
            ]
        },
    )
    assert make_draft.is_draft
    form = client.get(url(app), {"fields": "parameters"}).json()["parameters"]["user_input_form"]
    assert [next(iter(r.values()))["variable"] for r in form] == ["published_input"]


# -- lookup and visibility ---------------------------------------------------------------------


def test_lookup_by_name_in_a_workspace(client, echo_workflow, acme):
    response = client.get(
        url(quote("Echo Workflow")), {"workspace_id": str(acme.id), "fields": "info"}
    )
    assert response.json()["info"]["id"] == str(echo_workflow.id)


def test_name_with_a_colon_on_the_describe_path(client, acme):
    app = AppFactory(workspace=acme, name="Bot: v2")
    response = client.get(url(quote("Bot: v2")), {"workspace_id": str(acme.id)})
    assert response.json()["info"]["id"] == str(app.id)


def test_name_lookup_without_workspace_id_is_an_unknown_app(client, echo_workflow):
    # difyctl reads a non-UUID id it cannot resolve as "not found" (client.md §4.8).
    body = assert_envelope(client.get(url("Echo Workflow")), 404, message="app not found")
    assert body["hint"] == "workspace_id is required for name-based lookup"


@pytest.mark.parametrize("name", ["a\x00b", "\x00"])
def test_name_with_a_nul_character_is_404(client, acme, echo_workflow, name):
    response = client.get(url(quote(name)), {"workspace_id": str(acme.id)})
    assert_envelope(response, 404, message="app not found")


def test_malformed_workspace_id_is_422(client, echo_workflow):
    body = assert_envelope(
        client.get(url("Echo Workflow"), {"workspace_id": "acme"}), 422, code="invalid_param"
    )
    assert body["message"].startswith("workspace_id:")


def test_ambiguous_name_is_409_listing_the_candidates(client, acme):
    first = AppFactory(workspace=acme, name="Twin", mode=AppMode.CHAT)
    second = AppFactory(workspace=acme, name="Twin", mode=AppMode.WORKFLOW)
    AppFactory(workspace=acme, name="Twin", enable_api=False)
    AppFactory(workspace=WorkspaceFactory(), name="Twin")
    body = assert_envelope(
        client.get(url("Twin"), {"workspace_id": str(acme.id)}), 409, code="conflict"
    )
    lines = body["message"].splitlines()
    assert "app id" in lines[0]
    assert lines[1].split() == ["ID", "MODE", "NAME"]
    assert [line.split() for line in lines[2:]] == [
        [str(second.id), "workflow", "Twin"],
        [str(first.id), "chat", "Twin"],
    ]


def test_name_matches_exactly(client, acme):
    AppFactory(workspace=acme, name="Echo")
    assert_envelope(
        client.get(url("echo"), {"workspace_id": str(acme.id)}), 404, message="app not found"
    )


@pytest.mark.parametrize("kind", ["service_off", "archived", "other_workspace", "unknown"])
def test_name_lookup_of_an_invisible_app_is_404(client, acme, kind):
    workspace = acme
    if kind == "service_off":
        AppFactory(workspace=acme, name="Hidden", enable_api=False)
    elif kind == "archived":
        AppFactory(workspace=acme, name="Hidden", status=App.Status.ARCHIVED)
    elif kind == "other_workspace":
        workspace = WorkspaceFactory()
        AppFactory(workspace=workspace, name="Hidden")
    response = client.get(url("Hidden"), {"workspace_id": str(workspace.id)})
    assert_envelope(response, 404, code="not_found", message="app not found")


def test_uuid_lookup_ignores_workspace_id(client, echo_workflow, charlie):
    other = charlie.memberships.get().workspace_id
    response = client.get(url(echo_workflow), {"workspace_id": str(other)})
    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["service_off", "archived", "foreign", "unknown", "malformed"])
def test_invisible_ids_are_404(client, acme, charlie, kind):
    target = {
        "service_off": lambda: AppFactory(workspace=acme, enable_api=False).id,
        "archived": lambda: AppFactory(workspace=acme, status=App.Status.ARCHIVED).id,
        "foreign": lambda: AppFactory(workspace=charlie.memberships.get().workspace).id,
        "unknown": lambda: uuid.uuid4(),
        "malformed": lambda: "12345678-1234-1234-1234-12345678zzzz",
    }[kind]()
    params = {"workspace_id": str(acme.id)}
    for path in (url(target), url(target, "")):
        assert_envelope(client.get(path, params), 404, code="not_found", message="app not found")


def test_member_can_describe(bob, echo_workflow, api, token_for):
    response = api(token_for(bob)).get(url(echo_workflow))
    assert response.status_code == 200 and response.json()["info"]["name"] == "Echo Workflow"


def test_outsider_gets_404_by_id_and_by_name(charlie, echo_workflow, acme, api, token_for):
    outsider = api(token_for(charlie))
    assert_envelope(outsider.get(url(echo_workflow)), 404, message="app not found")
    assert_envelope(
        outsider.get(url("Echo Workflow"), {"workspace_id": str(acme.id)}),
        404,
        message="app not found",
    )


def test_outsider_cannot_tell_visible_from_invisible(charlie, acme, api, token_for):
    outsider = api(token_for(charlie))
    hidden = AppFactory(workspace=acme, enable_api=False)
    shown = AppFactory(workspace=acme)
    bodies = [outsider.get(url(app)).json() for app in (hidden, shown)]
    assert bodies[0] == bodies[1]


def test_external_subject_is_wrong_surface(api, sso_token, echo_workflow):
    for path in (url(echo_workflow), url(echo_workflow, "")):
        assert_envelope(
            api(sso_token).get(path),
            403,
            message="wrong_surface (canonical: /openapi/v1/permitted-external-apps)",
        )


def test_without_token_is_401(api, echo_workflow):
    assert_envelope(api().get(url(echo_workflow)), 401, code="unauthorized")


def test_describe_query_count_is_bounded(client, echo_workflow, django_assert_max_num_queries):
    client.get(url(echo_workflow))  # the first request of a token also records its last use
    with django_assert_max_num_queries(5):
        assert client.get(url(echo_workflow)).status_code == 200


def test_tags_in_name_order_with_queries_constant_in_their_number(
    client, echo_workflow, django_assert_num_queries
):
    from apps_runtime.services import app_add_tags

    client.get(url(echo_workflow))  # the first request of a token also records its last use
    with django_assert_num_queries(4) as one_tag:  # token, app, membership, tags
        body = client.get(url(echo_workflow)).json()
    assert body["info"]["tags"] == [{"name": "demo"}]
    app_add_tags(app=echo_workflow, names=["zeta", "alpha", "mid", "beta"])
    with django_assert_num_queries(len(one_tag.captured_queries)):
        body = client.get(url(echo_workflow)).json()
    names = [tag["name"] for tag in body["info"]["tags"]]
    assert names == ["alpha", "beta", "demo", "mid", "zeta"]
    # Without the info block, the tags are not read at all.
    with django_assert_num_queries(3):
        body = client.get(url(echo_workflow), {"fields": "parameters"}).json()
    assert body["info"] is None and body["parameters"] is not None
