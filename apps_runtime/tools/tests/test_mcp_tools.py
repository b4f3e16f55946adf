"""MCP providers against the SDK's own server (a subprocess on 127.0.0.1) and against hostile
servers: tools listed and cached, calls over streamable HTTP and SSE, headers sealed and sent,
the outbound rules, the overall deadline, a size cap and malformed answers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from accounts.audit import Actor
from apps_runtime.tools.invoke import tool_invoke
from apps_runtime.tools.models import ToolCallRecord, ToolProvider
from apps_runtime.tools.registry import tool_resolve
from apps_runtime.tools.services import ToolProviderInvalid, tool_provider_save
from apps_runtime.tools.types import ToolError

pytestmark = pytest.mark.django_db

SERVER_SCRIPT = Path(__file__).with_name("mcp_server.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mcp_base() -> Iterator[str]:
    """The SDK's MCP server in a subprocess, shared by the module."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the MCP test server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def allowed(settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]


def mcp_provider(workspace, url, *, headers=None, name="calc"):
    provider = ToolProvider(workspace=workspace, kind="mcp", name=name, server_url=url)
    return tool_provider_save(provider, headers=headers, actor=Actor.system("test"))


def call(workspace, tool, arguments, provider="calc"):
    bound = tool_resolve(workspace.id, {"provider_name": provider, "tool_name": tool})
    return tool_invoke(bound, arguments, workspace_id=workspace.id, run_id=None)


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_the_servers_tools_are_listed_cached_and_called(acme, mcp_base, allowed, path):
    provider = mcp_provider(acme, mcp_base + path)
    assert [t["name"] for t in provider.tools] == ["add", "shout", "nap", "fail"]
    add = provider.tools[0]
    assert add["description"] == "Add two integers."
    assert add["parameters"]["properties"]["a"]["type"] == "integer"
    assert add["parameters"]["required"] == ["a", "b"]
    output = call(acme, "add", {"a": 2, "b": 40})
    assert output.text == "42" and output.variables == {"result": 42}
    assert ToolCallRecord.objects.get().status == "succeeded"


def test_wrong_argument_types_never_reach_the_server(acme, mcp_base, allowed):
    mcp_provider(acme, mcp_base + "/mcp")
    with pytest.raises(ToolError, match="a: 'two' is not of type 'integer'"):
        call(acme, "add", {"a": "two", "b": 1})


def test_a_failing_tool_is_a_tool_error(acme, mcp_base, allowed):
    mcp_provider(acme, mcp_base + "/mcp")
    with pytest.raises(ToolError, match="fail failed"):
        call(acme, "fail", {})


def test_a_hanging_tool_ends_at_the_deadline(acme, mcp_base, allowed, settings):
    mcp_provider(acme, mcp_base + "/mcp")
    settings.TOOL_CALL_DEADLINE_SECONDS = 1
    started = time.monotonic()
    with pytest.raises(ToolError, match="did not answer within 1"):
        call(acme, "nap", {"seconds": 4})
    assert time.monotonic() - started < 3


def test_a_private_server_is_refused_when_saved(acme, mcp_base, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    with pytest.raises(ToolProviderInvalid, match="private or reserved address"):
        mcp_provider(acme, mcp_base + "/mcp")
    assert not ToolProvider.objects.exists()


# -- hostile servers ----------------------------------------------------------------------------


class Hostile:
    def __init__(self) -> None:
        self.mode = "malformed"
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()


@pytest.fixture(scope="module")
def _hostile_server() -> Iterator[tuple[str, Hostile]]:
    state = Hostile()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if state.mode == "hang":
                state.release.wait(10)
                return
            if state.mode == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(50 * 1024 * 1024 // len(chunk)):  # 50 MB
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
                return
            reply = {"jsonrpc": "2.0", "id": body.get("id"), "result": {"unexpected": [1, 2]}}
            data = json.dumps(reply).encode() if state.mode == "malformed" else b"{not json"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp", state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def hostile(_hostile_server, allowed):
    url, state = _hostile_server
    state.headers.clear()
    state.release.clear()
    return url, state


def saved_hostile(workspace, url):
    """A provider row pointing at the hostile server (saved without listing its tools)."""
    return ToolProvider.objects.create(
        workspace=workspace,
        kind="mcp",
        name="calc",
        server_url=url,
        tools=[{"name": "add", "description": "", "parameters": {"type": "object"}}],
    )


@pytest.mark.parametrize("mode", ["malformed", "not-json"])
def test_malformed_json_rpc_is_a_tool_error(acme, hostile, mode, settings):
    settings.TOOL_CALL_DEADLINE_SECONDS = 3
    url, state = hostile
    state.mode = mode
    saved_hostile(acme, url)
    with pytest.raises(ToolError, match=r"the MCP server at \S+ failed"):
        call(acme, "add", {})
    with pytest.raises(ToolProviderInvalid):
        mcp_provider(acme, url, name="again")


def test_fifty_megabytes_are_cut_off_at_the_cap(acme, hostile, settings):
    settings.TOOL_MAX_RESPONSE_BYTES = 100_000
    url, state = hostile
    state.mode = "huge"
    saved_hostile(acme, url)
    with pytest.raises(ToolError, match="larger than 100000 bytes"):
        call(acme, "add", {})


def test_a_server_that_never_answers_ends_at_the_deadline(acme, hostile, settings):
    settings.TOOL_CALL_DEADLINE_SECONDS = 1
    url, state = hostile
    state.mode = "hang"
    saved_hostile(acme, url)
    with pytest.raises(ToolError, match="did not answer within 1"):
        call(acme, "add", {})


def test_headers_are_sealed_at_rest_and_sent(acme, mcp_base, hostile):
    provider = mcp_provider(acme, mcp_base + "/mcp", headers={"Authorization": "Bearer mcp-s3"})
    stored = ToolProvider.objects.values_list("credentials", flat=True).get(pk=provider.pk)
    assert stored.startswith("enc:v1:") and "mcp-s3" not in stored
    url, state = hostile
    state.mode = "not-json"
    ToolProvider.objects.filter(pk=provider.pk).update(server_url=url)
    with pytest.raises(ToolError):
        call(acme, "add", {"a": 1, "b": 2})
    assert state.headers[0]["authorization"] == "Bearer mcp-s3"


def test_a_stop_cancels_a_call_in_flight(acme, mcp_base, allowed):
    from apps_runtime.tools import mcp

    asked = time.monotonic()
    with pytest.raises(ToolError, match="the run was stopped"):
        mcp.call(
            mcp_base + "/mcp",
            {},
            "nap",
            {"seconds": 4},
            deadline=asked + 20,
            should_stop=lambda: time.monotonic() - asked > 0.3,
        )
    assert time.monotonic() - asked < 2


@pytest.mark.django_db(transaction=True)
def test_an_agent_app_uses_an_openapi_and_an_mcp_tool_in_one_round(
    acme, alice, token_for, mcp_base, pets, llm_env, settings
):
    """The issue's walk-through: both providers added, a Dify agent app imported, one run."""
    import yaml

    from apps_runtime.runs.tests.helpers import run_path, sse_call
    from apps_runtime.tools.tests.helpers import agent_dsl, api_provider, import_dsl

    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    api_provider(acme, pets)
    mcp_provider(acme, mcp_base + "/mcp")
    document = yaml.safe_load(agent_dsl())
    document["model_config"]["agent_mode"]["tools"].append(
        {
            "enabled": True,
            "provider_type": "mcp",
            "provider_id": "calc-server",
            "provider_name": "calc",
            "tool_name": "add",
            "tool_parameters": {},
        }
    )
    app = import_dsl(acme, alice, yaml.safe_dump(document)).app
    llm_env.answer_tool_calls([("add", {"a": 2, "b": 3}), ("getPet", {"pet_id": 5})], once=True)
    llm_env.answer("5, and pet 5 is a cat.", once=True)
    response = sse_call(
        "POST", run_path(app), token=token_for(alice), body={"inputs": {}, "query": "2+3? pet 5?"}
    )
    assert response.names[:2] == ["agent_thought", "agent_thought"]
    assert response.names[-1] == "message_end"
    observed = json.loads(response.events[1]["observation"])
    assert observed["add"] == "5" and json.loads(observed["getPet"])["name"] == "pet-5"
    assert response.events[0]["tool"] == "add;getPet"
    assert [t["function"]["name"] for t in llm_env.requests[0].body["tools"]] == [
        "getPet",
        "add",
    ]
    records = sorted(ToolCallRecord.objects.values_list("provider", "tool", "status"))
    assert records == [("calc", "add", "succeeded"), ("pets", "getPet", "succeeded")]
