"""The http-request node against a local server (dsl.md §4.8), and its SSRF refusal."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.engine.tests.httpserver import LocalServer, Reply
from tests.drip import dripping_server


def http_run(
    data: dict[str, Any],
    *,
    inputs: dict[str, Any] | None = None,
    host: RecordingHost | None = None,
) -> tuple[Any, RecordingHost]:
    g = graph(
        [
            node(
                "start",
                "start",
                variables=[
                    {"variable": "q", "type": "text-input"},
                    {"variable": "f", "type": "file"},
                ],
            ),
            node(
                "http",
                "http-request",
                **{
                    "method": "get",
                    "authorization": {"type": "no-auth"},
                    "headers": "",
                    "params": "",
                    "body": {"type": "none", "data": []},
                    **data,
                },
            ),
            node(
                "end",
                "end",
                outputs=[
                    {"variable": v, "value_selector": ["http", v]}
                    for v in ("status_code", "body", "headers", "files")
                ],
            ),
        ],
        [edge("start", "http"), edge("http", "end")],
    )
    host = host or RecordingHost()
    outcome = run_workflow(
        g,
        mode="workflow",
        inputs=inputs or {"q": "hello world"},
        system={"workflow_run_id": "run-1"},
        environment={"KEY": "sk-123"},
        conversation={},
        host=host,
    )
    return outcome, host


@pytest.fixture
def allowed(settings: Any) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]


def echoed(outcome: Any) -> dict[str, Any]:
    assert outcome.status == "succeeded", outcome.error
    return json.loads(outcome.outputs["body"])


@pytest.mark.parametrize("method", ["get", "POST", "put", "patch", "delete", "options"])
def test_methods(http_server: LocalServer, allowed: None, method: str) -> None:
    outcome, _ = http_run({"method": method, "url": f"{http_server.base}/m"})
    assert echoed(outcome)["method"] == method.upper()
    assert outcome.outputs["status_code"] == 200


def test_head(http_server: LocalServer, allowed: None) -> None:
    outcome, _ = http_run({"method": "head", "url": f"{http_server.base}/h"})
    assert outcome.outputs["status_code"] == 200
    assert http_server.requests[0].method == "HEAD"


def test_url_headers_and_params_are_rendered(http_server: LocalServer, allowed: None) -> None:
    outcome, _ = http_run(
        {
            "url": http_server.base + "/items/{{#start.q#}}",
            "headers": "X-Trace:{{#sys.workflow_run_id#}}\nX-Colon: a:b\nX-Empty",
            "params": "q:{{#start.q#}}\npage:1\npage:2",
        }
    )
    got = echoed(outcome)
    assert got["path"] == "/items/hello%20world?q=hello+world&page=1&page=2"
    assert got["headers"]["x-trace"] == "run-1"
    assert got["headers"]["x-colon"] == "a:b"
    assert got["headers"]["x-empty"] == ""
    assert outcome.outputs["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "payload"),
    [
        (
            {"type": "raw-text", "data": [{"type": "text", "value": "plain {{#start.q#}}"}]},
            "text/plain",
            "plain hello world",
        ),
        (
            {"type": "json", "data": [{"type": "text", "value": '{"q": "{{#start.q#}}", "n": 1}'}]},
            "application/json",
            '{"q": "hello world", "n": 1}',
        ),
        (
            {
                "type": "x-www-form-urlencoded",
                "data": [
                    {"key": "a", "type": "text", "value": "{{#start.q#}}"},
                    {"key": "b", "type": "text", "value": "2"},
                ],
            },
            "application/x-www-form-urlencoded",
            "a=hello+world&b=2",
        ),
        ({"type": "raw-text", "data": "legacy {{#start.q#}}"}, "text/plain", "legacy hello world"),
    ],
)
def test_body_types(
    http_server: LocalServer, allowed: None, body: dict[str, Any], content_type: str, payload: str
) -> None:
    outcome, _ = http_run({"method": "post", "url": f"{http_server.base}/b", "body": body})
    got = echoed(outcome)
    assert got["headers"]["content-type"] == content_type
    assert got["body"] == payload


def test_form_data_text_fields(http_server: LocalServer, allowed: None) -> None:
    outcome, _ = http_run(
        {
            "method": "post",
            "url": f"{http_server.base}/f",
            "body": {
                "type": "form-data",
                "data": [{"key": "name", "type": "text", "value": "{{#start.q#}}"}],
            },
        }
    )
    got = echoed(outcome)
    assert got["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert 'name="name"' in got["body"] and "hello world" in got["body"]


def test_form_data_and_binary_with_a_remote_file(http_server: LocalServer, allowed: None) -> None:
    http_server.route(
        "/file.bin", Reply(200, b"\x00\x01payload", {"Content-Type": "application/octet-stream"})
    )
    file = {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "remote_url",
        "url": f"{http_server.base}/file.bin",
        "name": "file.bin",
        "mime_type": "application/octet-stream",
    }
    outcome, _ = http_run(
        {
            "method": "post",
            "url": f"{http_server.base}/up",
            "body": {
                "type": "form-data",
                "data": [
                    {"key": "doc", "type": "file", "file": ["start", "f"]},
                    {"key": "k", "type": "text", "value": "v"},
                ],
            },
        },
        inputs={"q": "x", "f": file},
    )
    got = echoed(outcome)
    assert 'name="doc"; filename="file.bin"' in got["body"]
    assert "\x00\x01payload" in got["body"]
    outcome, _ = http_run(
        {
            "method": "post",
            "url": f"{http_server.base}/raw",
            "body": {"type": "binary", "data": [{"type": "file", "file": ["start", "f"]}]},
        },
        inputs={"q": "x", "f": file},
    )
    got = echoed(outcome)
    assert got["body"] == "\x00\x01payload"
    assert got["headers"]["content-type"] == "application/octet-stream"


def test_a_user_content_type_wins(http_server: LocalServer, allowed: None) -> None:
    outcome, _ = http_run(
        {
            "method": "post",
            "url": f"{http_server.base}/j",
            "headers": "Content-Type: application/vnd.x+json",
            "body": {"type": "json", "data": [{"type": "text", "value": "{}"}]},
        }
    )
    assert echoed(outcome)["headers"]["content-type"] == "application/vnd.x+json"


@pytest.mark.parametrize(
    ("config", "header", "value"),
    [
        ({"type": "bearer", "api_key": "{{#env.KEY#}}"}, "authorization", "Bearer sk-123"),
        (
            {"type": "basic", "api_key": "user:pw"},
            "authorization",
            "Basic " + base64.b64encode(b"user:pw").decode(),
        ),
        ({"type": "basic", "api_key": "dXNlcjpwdw=="}, "authorization", "Basic dXNlcjpwdw=="),
        ({"type": "custom", "api_key": "k", "header": "X-Api-Key"}, "x-api-key", "k"),
        ({"type": "bearer", "api_key": "k", "header": "X-Auth"}, "x-auth", "Bearer k"),
    ],
)
def test_authorization(
    http_server: LocalServer, allowed: None, config: dict[str, Any], header: str, value: str
) -> None:
    outcome, host = http_run(
        {"url": f"{http_server.base}/a", "authorization": {"type": "api-key", "config": config}}
    )
    assert echoed(outcome)["headers"][header] == value
    shown = json.dumps(host.finished()["http"]["inputs"])
    assert "sk-123" not in shown


def test_empty_api_key_fails(http_server: LocalServer, allowed: None) -> None:
    outcome, _ = http_run(
        {
            "url": f"{http_server.base}/a",
            "authorization": {"type": "api-key", "config": {"type": "bearer", "api_key": ""}},
        }
    )
    assert outcome.status == "failed"
    assert http_server.requests == []


def test_non_2xx_is_success_without_error_handling(http_server: LocalServer, allowed: None) -> None:
    http_server.route("/missing", Reply(404, b"nope", {"Content-Type": "text/plain"}))
    outcome, _ = http_run({"url": f"{http_server.base}/missing"})
    assert outcome.status == "succeeded"
    assert outcome.outputs["status_code"] == 404
    assert outcome.outputs["body"] == "nope"


def test_non_2xx_with_an_error_strategy_is_a_failure(
    http_server: LocalServer, allowed: None
) -> None:
    http_server.route("/missing", Reply(500, b"down"))
    outcome, host = http_run(
        {
            "url": f"{http_server.base}/missing",
            "error_strategy": "default-value",
            "default_value": [{"key": "body", "type": "string", "value": "fallback"}],
        }
    )
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs["body"] == "fallback"
    assert host.finished()["http"]["outputs"]["error_type"] == "HTTPResponseCodeError"


def test_non_2xx_with_retry_is_retried(http_server: LocalServer, allowed: None) -> None:
    http_server.route(
        "/flaky",
        lambda req: (
            Reply(503)
            if len(http_server.requests) < 2
            else Reply(200, b"ok", {"Content-Type": "text/plain"})
        ),
    )
    outcome, _ = http_run(
        {
            "url": f"{http_server.base}/flaky",
            "retry_config": {"retry_enabled": True, "max_retries": 3, "retry_interval": 1},
        }
    )
    assert outcome.status == "succeeded"
    assert outcome.outputs["body"] == "ok"
    assert len(http_server.requests) == 2


def test_binary_response_becomes_a_file(http_server: LocalServer, allowed: None) -> None:
    http_server.route(
        "/pic",
        Reply(
            200,
            b"\x89PNG..",
            {"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="p.png"'},
        ),
    )
    outcome, _ = http_run({"url": f"{http_server.base}/pic"})
    assert outcome.outputs["body"] == ""
    (file,) = outcome.outputs["files"]
    assert (file["name"], file["mime_type"], file["size"], file["type"]) == (
        "p.png",
        "image/png",
        6,
        "image",
    )


def test_text_size_cap(http_server: LocalServer, allowed: None, settings: Any) -> None:
    settings.HTTP_NODE_MAX_TEXT_BYTES = 10
    http_server.route("/big", Reply(200, b"x" * 50, {"Content-Type": "text/plain"}))
    outcome, _ = http_run({"url": f"{http_server.base}/big"})
    assert outcome.status == "failed"
    assert "larger" in (outcome.error or "")


def test_timeout_fails_the_node(http_server: LocalServer, allowed: None) -> None:
    http_server.route("/slow", Reply(200, b"late", delay=2))
    outcome, _ = http_run(
        {"url": f"{http_server.base}/slow", "timeout": {"connect": 1, "read": 0.2, "write": 1}}
    )
    assert outcome.status == "failed"
    assert "timed out" in (outcome.error or "")


def test_a_dripping_server_fails_the_node_at_the_total_deadline(
    allowed: None, settings: Any
) -> None:
    settings.OUTBOUND_DEADLINE_SECONDS = 0.5
    with dripping_server(every=0.2) as drip:
        started = time.monotonic()
        outcome, _ = http_run({"url": drip.base, "timeout": {"connect": 5, "read": 5, "write": 5}})
        took = time.monotonic() - started
    assert outcome.status == "failed"
    assert "did not complete within 0.5 seconds" in (outcome.error or "")
    assert took < 1.2


def test_a_stop_during_a_dripping_request_ends_the_run_stopped_within_a_second(
    allowed: None,
) -> None:
    stop_at = time.monotonic() + 0.3
    host = RecordingHost(stop_when=lambda h: time.monotonic() >= stop_at)
    with dripping_server(every=0.3) as drip:
        outcome, _ = http_run({"url": drip.base}, host=host)
        stopped_after = time.monotonic() - stop_at
    assert outcome.status == "stopped"
    assert stopped_after < 1.0


@pytest.mark.parametrize("host", ["localhost", "2130706433", "[::1]", "127.0.0.1"])
def test_loopback_is_refused_without_the_allow_list(http_server: LocalServer, host: str) -> None:
    outcome, _ = http_run({"url": f"http://{host}:{http_server.port}/"})
    assert outcome.status == "failed"
    assert "not allowed" in (outcome.error or "")
    assert http_server.requests == []


def test_url_must_be_http() -> None:
    outcome, _ = http_run({"url": "file:///etc/passwd"})
    assert outcome.status == "failed"


def test_json_body_broken_by_a_rendered_value_is_repaired(
    http_server: LocalServer, allowed: None
) -> None:
    outcome, _ = http_run(
        {
            "method": "post",
            "url": f"{http_server.base}/j",
            "body": {
                "type": "json",
                "data": [{"type": "text", "value": '{"q": "{{#start.q#}}", "n": 1,}'}],
            },
        },
        inputs={"q": 'say "hi"'},
    )
    assert outcome.status == "succeeded", outcome.error
    got = echoed(outcome)
    assert json.loads(got["body"])["n"] == 1
    assert "say" in json.loads(got["body"])["q"]


def test_json_body_that_cannot_be_json_fails(http_server: LocalServer, allowed: None) -> None:
    outcome, _ = http_run(
        {
            "method": "post",
            "url": f"{http_server.base}/j",
            "body": {"type": "json", "data": [{"type": "text", "value": "just words"}]},
        }
    )
    assert outcome.status == "failed"
    assert http_server.requests == []
