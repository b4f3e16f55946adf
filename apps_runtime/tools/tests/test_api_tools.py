"""OpenAPI tool providers: the schema becomes tools, the address is checked when saved and when
called, credentials are sealed and sent as configured, arguments are checked first, output is
capped and every call is audited."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from accounts.audit import Actor
from apps_runtime.engine.tests.httpserver import Reply
from apps_runtime.tools import openapi
from apps_runtime.tools.invoke import tool_invoke
from apps_runtime.tools.models import ToolCallRecord, ToolProvider
from apps_runtime.tools.registry import tool_resolve
from apps_runtime.tools.services import ToolProviderInvalid, tool_provider_save
from apps_runtime.tools.tests.helpers import api_provider, pets_schema
from apps_runtime.tools.types import ToolError
from tests.drip import dripping_server
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


def call(workspace, tool_name, arguments, provider="pets"):
    bound = tool_resolve(workspace.id, {"provider_name": provider, "tool_name": tool_name})
    return tool_invoke(bound, arguments, workspace_id=workspace.id, run_id=None)


def test_each_operation_becomes_a_tool_with_its_parameters_in_one_schema():
    server, tools = openapi.parse_schema(pets_schema("https://pets.example/v1"))
    assert server == "https://pets.example/v1"
    by_name = {tool["name"]: tool for tool in tools}
    assert set(by_name) == {"getPet", "addPet"}
    get_pet = by_name["getPet"]
    assert get_pet["description"] == "Get a pet by id"
    assert get_pet["method"] == "GET" and get_pet["path"] == "/pets/{pet_id}"
    assert get_pet["parameters"] == {
        "type": "object",
        "properties": {
            "pet_id": {"type": "integer"},
            "verbose": {"type": "boolean"},
            "X-Trace": {"type": "string"},
        },
        "required": ["pet_id"],
    }
    assert get_pet["locations"] == {"pet_id": "path", "verbose": "query", "X-Trace": "header"}
    assert by_name["addPet"]["parameters"] == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name"],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("swagger: '2.0'\npaths: {}", "OpenAPI 3"),
        ("openapi: 3.0.0\npaths: {}", "no paths"),
        ("[1, 2", "not readable"),
        (
            'openapi: 3.0.0\npaths: {"/a": {"get": {"parameters": [{"$ref": "other.yml#/x"}]}}}',
            r"only local \$ref",
        ),
    ],
)
def test_a_bad_schema_is_refused_with_its_reason(acme, text, message):
    provider = ToolProvider(workspace=acme, kind="api", name="bad", schema=text)
    with pytest.raises(ToolProviderInvalid, match=message):
        tool_provider_save(provider)
    assert not ToolProvider.objects.exists()


def test_a_schema_whose_server_is_private_is_refused_when_saved(acme, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    provider = ToolProvider(
        workspace=acme, kind="api", name="internal", schema=pets_schema("http://10.0.0.7:8080")
    )
    with pytest.raises(ToolProviderInvalid, match="private or reserved address"):
        tool_provider_save(provider)
    assert not ToolProvider.objects.exists()
    settings.HTTP_NODE_ALLOWED_HOSTS = ["10.0.0.7"]
    assert tool_provider_save(provider).tools


def test_a_provider_whose_host_is_no_longer_allowed_is_refused_when_called(acme, pets, settings):
    api_provider(acme, pets)
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    with pytest.raises(ToolError, match="not allowed"):
        call(acme, "getPet", {"pet_id": 1})
    assert pets.requests == []
    record = ToolCallRecord.objects.get()
    assert record.status == "failed" and "not allowed" in record.error


@pytest.mark.parametrize(
    ("auth_type", "key_name", "where"),
    [
        ("bearer", "", ("header", "authorization", "Bearer s3cret-token")),
        ("api_key_header", "X-Api-Key", ("header", "x-api-key", "s3cret-token")),
        ("api_key_query", "key", ("query", "key=s3cret-token", None)),
    ],
)
def test_credentials_are_sealed_at_rest_and_sent_as_configured(
    acme, pets, auth_type, key_name, where
):
    provider = api_provider(
        acme, pets, auth_type=auth_type, auth_key_name=key_name, secret="s3cret-token"
    )
    stored = ToolProvider.objects.values_list("credentials", flat=True).get(pk=provider.pk)
    assert stored.startswith("enc:v1:") and "s3cret-token" not in stored
    output = call(acme, "getPet", {"pet_id": 3, "verbose": True, "X-Trace": "t-1"})
    assert json.loads(output.text) == {"id": 3, "name": "pet-3", "species": "cat"}
    assert output.json == [{"id": 3, "name": "pet-3", "species": "cat"}]
    assert output.variables["species"] == "cat"
    request = pets.requests[-1]
    assert request.method == "GET" and request.path.startswith("/pets/3?verbose=true")
    assert request.headers["x-trace"] == "t-1"
    if where[0] == "header":
        assert request.headers[where[1]] == where[2]
    else:
        assert where[1] in request.path
    record = ToolCallRecord.objects.get()
    assert (record.provider, record.tool, record.status) == ("pets", "getPet", "succeeded")
    assert "s3cret-token" not in json.dumps(record.arguments)


def test_a_json_body_is_built_from_the_body_properties(acme, pets):
    api_provider(acme, pets)
    output = call(acme, "addPet", {"name": "Rex", "age": 2})
    assert pets.requests[-1].method == "POST"
    assert json.loads(pets.requests[-1].body) == {"name": "Rex", "age": 2}
    assert pets.requests[-1].headers["content-type"] == "application/json"
    assert output.variables == {"created": {"name": "Rex", "age": 2}}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "Rex", "age": "two"}, "age: 'two' is not of type 'integer'"),
        ({"age": 1}, "'name' is a required property"),
        ({"name": "Rex", "age": -1}, "age: -1 is less than the minimum of 0"),
        ("not an object", "must be a JSON object"),
    ],
)
def test_arguments_are_checked_against_the_schema_before_any_call(acme, pets, arguments, message):
    api_provider(acme, pets)
    with pytest.raises(ToolError, match=message):
        call(acme, "addPet", arguments)
    assert pets.requests == []
    assert ToolCallRecord.objects.get().status == "failed"


def test_a_response_past_the_size_cap_is_refused(acme, pets, settings):
    settings.TOOL_MAX_RESPONSE_BYTES = 1000
    pets.route("/pets/1", Reply(200, b"x" * 5000, {"Content-Type": "text/plain"}))
    api_provider(acme, pets)
    with pytest.raises(ToolError, match="more than 1000 bytes"):
        call(acme, "getPet", {"pet_id": 1})


def test_tool_output_is_cut_to_the_output_cap(acme, pets, settings):
    settings.TOOL_MAX_OUTPUT_BYTES = 100
    pets.route("/pets/1", Reply(200, b"y" * 500, {"Content-Type": "text/plain"}))
    api_provider(acme, pets)
    output = call(acme, "getPet", {"pet_id": 1})
    assert output.text == "y" * 100 + "\n[output truncated to 100 bytes]"


def test_an_error_status_becomes_a_tool_error(acme, pets):
    pets.route("/pets/1", Reply(404, b"no such pet", {"Content-Type": "text/plain"}))
    api_provider(acme, pets)
    with pytest.raises(ToolError, match="HTTP 404: no such pet"):
        call(acme, "getPet", {"pet_id": 1})


def test_another_workspaces_provider_is_never_found(acme, pets):
    other = Workspace.objects.create(name="Other")
    api_provider(other, pets, secret="theirs")
    with pytest.raises(ToolError, match="no tool provider 'pets'"):
        call(acme, "getPet", {"pet_id": 1})


# -- the builtin time provider ------------------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch):
    moment = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    return moment


def time_call(tool, arguments):
    bound = tool_resolve(None, {"provider_id": "langgenius/time/time", "tool_name": tool})
    return bound.call(arguments, 0.0, None).text


def test_the_time_tool_reads_the_clock_in_a_timezone_and_format(frozen):
    assert time_call("current_time", {}) == "2026-03-14 15:09:26 UTC"
    assert time_call("current_time", {"timezone": "Asia/Tokyo", "format": "%H:%M %Z"}) == (
        "00:09 JST"
    )
    converted = time_call(
        "timezone_conversion",
        {
            "current_time": "2026-07-01 12:00:00",
            "current_timezone": "Europe/Paris",
            "target_timezone": "America/New_York",
        },
    )
    assert converted == "2026-07-01 06:00:00"
    with pytest.raises(ToolError, match="unknown timezone 'Mars/Base'"):
        time_call("current_time", {"timezone": "Mars/Base"})


def test_admin_actor_saves_are_audited(acme, pets):
    from accounts.models import AuditEvent

    provider = api_provider(acme, pets, secret="k-123")
    tool_provider_save(provider, secret="k-456", actor=Actor.system("test"))
    events = list(AuditEvent.objects.filter(action__startswith="tool_provider.").order_by("id"))
    assert [e.action for e in events] == ["tool_provider.created", "tool_provider.updated"]
    assert "k-123" not in json.dumps([e.details for e in events], default=str)


def test_an_api_that_drips_is_cut_at_the_tool_call_deadline(acme, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.TOOL_CALL_DEADLINE_SECONDS = 0.6
    with dripping_server(every=0.1) as drip:
        api_provider(acme, drip, name="slow")
        started = time.monotonic()
        with pytest.raises(ToolError):
            call(acme, "getPet", {"pet_id": 1}, provider="slow")
        took = time.monotonic() - started
    assert took < 1.5, took  # every byte came inside any read timeout: only the total cut it
    record = ToolCallRecord.objects.get(tool="getPet")
    assert record.status == "failed"


def test_a_stop_reaches_an_api_call_that_is_waiting(acme, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_STOP_POLL_MS = 50
    stop_at = time.monotonic() + 0.3
    with dripping_server(every=0.2, drip_head=True) as drip:
        api_provider(acme, drip, name="slow")
        bound = tool_resolve(acme.id, {"provider_name": "slow", "tool_name": "getPet"})
        with pytest.raises(ToolError, match="stopped"):
            tool_invoke(
                bound,
                {"pet_id": 1},
                workspace_id=acme.id,
                run_id=None,
                should_stop=lambda: time.monotonic() >= stop_at,
            )
    assert time.monotonic() - stop_at < 1.0
