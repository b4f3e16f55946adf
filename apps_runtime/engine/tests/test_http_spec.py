"""http-request node rules (dsl.md §4.8): the request as a local server receives it, the outputs,
and the targets that must be refused without any request being made."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import pytest

from apps_runtime.engine.http_spec import (
    HttpNodeError,
    HttpRequestSpec,
    HttpResponseCodeError,
    HttpTimeouts,
    build_request,
    check_status,
    is_failure,
    send,
)
from apps_runtime.engine.tests.httpserver import LocalServer, Recorded, Reply
from apps_runtime.engine.variables import MISSING

VALUES: dict[str, Any] = {
    "start.id": "42",
    "start.q": "a b&c",
    "start.a": 'say "hi"',
    "start.n": 7,
    "env.KEY": "s3cret",
    "env.USERPASS": "user:pa:ss",
    "env.EMPTY": "",
    "sys.run": "run-1",
}


def render(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        value = VALUES.get(match.group(1))
        return match.group(1) if value is None else str(value)

    return re.sub(r"\{\{#([\w.]+)#\}\}", one, text)


def make_resolve(extra: dict[str, Any] | None = None) -> Any:
    values = {**VALUES, **(extra or {})}

    def resolve(selector: Sequence[str]) -> Any:
        return values.get(".".join(selector), MISSING)

    return resolve


RESOLVE = make_resolve()


def node(**data: Any) -> dict[str, Any]:
    return {"method": "get", "url": "http://127.0.0.1/x", **data}


def build(**data: Any) -> HttpRequestSpec:
    return build_request(node(**data), render, RESOLVE)


@pytest.fixture
def server(http_server: LocalServer, settings: Any) -> Iterator[LocalServer]:
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    yield http_server


CAPS = {"max_text_bytes": 1024 * 1024, "max_binary_bytes": 10 * 1024 * 1024}


def run(data: dict[str, Any], resolve: Any = RESOLVE, **caps: int) -> dict[str, Any]:
    return send(build_request(data, render, resolve), **{**CAPS, **caps})


# --- building: method, url, headers, params ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "method"),
    [
        ("get", "GET"),
        ("POST", "POST"),
        ("Put", "PUT"),
        ("patch", "PATCH"),
        ("delete", "DELETE"),
        ("head", "HEAD"),
        ("options", "OPTIONS"),
        (" get ", "GET"),
    ],
)
def test_method_any_case(raw: str, method: str) -> None:
    assert build(method=raw).method == method


@pytest.mark.parametrize("raw", ["fetch", "", None, "CONNECT", "TRACE"])
def test_invalid_method(raw: Any) -> None:
    with pytest.raises(HttpNodeError, match="Invalid HTTP method") as caught:
        build(method=raw)
    assert caught.value.error_type == "InvalidHttpMethodError"


def test_url_is_rendered() -> None:
    assert build(url=" https://api.example.com/items/{{#start.id#}} ").url == (
        "https://api.example.com/items/42"
    )


@pytest.mark.parametrize(
    "url", ["ftp://x.example/", "file:///etc/passwd", "api.example.com", "", "{{#start.id#}}"]
)
def test_url_must_be_http(url: str) -> None:
    with pytest.raises(HttpNodeError, match=r"must start with http:// or https://"):
        build(url=url)


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        ("", {}),
        ("Content-Type:application/json", {"Content-Type": "application/json"}),
        ("X-Trace: {{#sys.run#}} \nAccept : */*", {"X-Trace": "run-1", "Accept": "*/*"}),
        ("X-Url:http://a:b/c", {"X-Url": "http://a:b/c"}),  # split at the first colon only
        ("X-Flag", {"X-Flag": ""}),  # no colon → empty value
        ("\n\nA:1\r\n\nB:2\n", {"A": "1", "B": "2"}),  # blank lines and CRLF
        ("X-A:1\nx-a:2", {"x-a": "2"}),  # later line wins, names without case
        (":orphan", {}),
        ("X-Obj:{{#start.n#}}", {"X-Obj": "7"}),
    ],
)
def test_headers_text(text: str, headers: dict[str, str]) -> None:
    assert build(headers=text).headers == headers


def test_headers_text_is_rendered_before_splitting() -> None:
    VALUES["start.hdrs"] = "X-One:1\nX-Two:2"
    try:
        assert build(headers="{{#start.hdrs#}}").headers == {"X-One": "1", "X-Two": "2"}
    finally:
        del VALUES["start.hdrs"]


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("", []),
        ("q:{{#start.q#}}\npage:1", [("q", "a b&c"), ("page", "1")]),
        ("tag:a\ntag:b", [("tag", "a"), ("tag", "b")]),  # duplicates kept
        ("{{#start.id#}}:{{#start.n#}}", [("42", "7")]),  # key and value rendered
        ("flag", [("flag", "")]),
        ("t: 10:30 ", [("t", "10:30")]),
        (":x", []),
    ],
)
def test_params_text(text: str, params: list[tuple[str, str]]) -> None:
    assert build(params=text).params == params


# --- building: authorization ------------------------------------------------------------------


def api_key(kind: str, key: str, header: str = "") -> dict[str, Any]:
    return {"type": "api-key", "config": {"type": kind, "api_key": key, "header": header}}


BASIC_UP = base64.b64encode(b"user:pa:ss").decode()


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        (None, {}),
        ({"type": "no-auth", "config": None}, {}),
        (api_key("bearer", "{{#env.KEY#}}"), {"Authorization": "Bearer s3cret"}),
        (api_key("bearer", "k", "X-Auth"), {"X-Auth": "Bearer k"}),
        (api_key("basic", "{{#env.USERPASS#}}"), {"Authorization": f"Basic {BASIC_UP}"}),
        (api_key("basic", "dXNlcjpwYXNz"), {"Authorization": "Basic dXNlcjpwYXNz"}),  # as-is
        (api_key("custom", "{{#env.KEY#}}", "X-Api-Key"), {"X-Api-Key": "s3cret"}),
        (api_key("custom", "k", "{{#start.id#}}-h"), {"42-h": "k"}),
    ],
)
def test_authorization(auth: Any, headers: dict[str, str]) -> None:
    assert build(authorization=auth).headers == headers


def test_authorization_replaces_a_header_of_the_same_name() -> None:
    spec = build(headers="authorization:old\nX-Other:1", authorization=api_key("bearer", "new"))
    assert spec.headers == {"X-Other": "1", "Authorization": "Bearer new"}


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (api_key("bearer", ""), "API key is required"),
        (api_key("bearer", "{{#env.EMPTY#}}"), "API key is required"),
        (api_key("custom", "k", ""), "needs a header name"),
        (api_key("digest", "k"), "Unsupported API-key type"),
        ({"type": "oauth"}, "Unsupported authorization type"),
        ({"type": "api-key", "config": None}, "needs a config"),
    ],
)
def test_authorization_errors(auth: Any, message: str) -> None:
    with pytest.raises(HttpNodeError, match=message) as caught:
        build(authorization=auth)
    assert caught.value.error_type == "AuthorizationConfigError"


# --- building: timeouts and TLS ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (None, HttpTimeouts(10, 600, 600)),
        ({}, HttpTimeouts(10, 600, 600)),
        ({"connect": 0, "read": 0, "write": 0}, HttpTimeouts(10, 600, 600)),
        ({"connect": 3, "read": 30, "write": 20}, HttpTimeouts(3, 30, 20)),
        ({"connect": 5, "read": None, "max_read_timeout": 0}, HttpTimeouts(5, 600, 600)),
        ({"connect": 99, "read": 9999, "write": 601}, HttpTimeouts(10, 600, 600)),  # ceilings
        ({"connect": "2", "read": 0.5}, HttpTimeouts(2, 0.5, 600)),
    ],
)
def test_timeouts(timeout: Any, expected: HttpTimeouts) -> None:
    assert build(timeout=timeout).timeout == expected


def test_timeout_maxima_come_from_settings(settings: Any) -> None:
    settings.HTTP_NODE_MAX_CONNECT_TIMEOUT = 2
    settings.HTTP_NODE_MAX_READ_TIMEOUT = 5
    settings.HTTP_NODE_MAX_WRITE_TIMEOUT = 4
    assert build(timeout={"connect": 0, "read": 60}).timeout == HttpTimeouts(2, 5, 4)


def test_bad_timeout() -> None:
    with pytest.raises(HttpNodeError, match="Timeout 'read' must be a number"):
        build(timeout={"read": "soon"})


@pytest.mark.parametrize(("raw", "verify"), [(None, True), (True, True), (False, False)])
def test_ssl_verify(raw: Any, verify: bool) -> None:
    assert build(ssl_verify=raw).verify is verify


def test_ssl_verify_default_is_a_setting(settings: Any) -> None:
    settings.HTTP_NODE_SSL_VERIFY = False
    assert build(ssl_verify=None).verify is False


# --- building: bodies -------------------------------------------------------------------------


def text_item(value: str, key: str = "") -> dict[str, Any]:
    return {"id": "key-value-1", "key": key, "type": "text", "value": value}


@pytest.mark.parametrize(
    ("body", "content", "content_type"),
    [
        (None, None, None),
        ({"type": "none", "data": []}, None, None),
        ({"type": "raw-text", "data": [text_item("id={{#start.id#}}")]}, b"id=42", "text/plain"),
        ({"type": "raw-text", "data": []}, b"", "text/plain"),
        ({"type": "raw-text", "data": "legacy {{#start.id#}}"}, b"legacy 42", "text/plain"),
        (
            {"type": "json", "data": [text_item('{"id": {{#start.id#}}, "n": "{{#start.n#}}"}')]},
            b'{"id": 42, "n": "7"}',
            "application/json",
        ),
        ({"type": "json", "data": '{"legacy": true}'}, b'{"legacy": true}', "application/json"),
        ({"type": "json", "data": [text_item("")]}, b"", "application/json"),
        (
            {
                "type": "x-www-form-urlencoded",
                "data": [
                    text_item("{{#start.q#}}", "q"),
                    text_item("1", "{{#start.id#}}"),
                    text_item("2", "q"),
                    text_item("dropped", ""),
                ],
            },
            b"q=a+b%26c&42=1&q=2",
            "application/x-www-form-urlencoded",
        ),
    ],
)
def test_body_encoding(body: Any, content: bytes | None, content_type: str | None) -> None:
    spec = build(method="post", body=body)
    assert spec.content == content
    assert spec.headers.get("Content-Type") == content_type


@pytest.mark.parametrize(
    ("template", "parsed"),
    [
        ('{"a": "{{#start.a#}}"}', {"a": 'say "hi"'}),  # quotes inside a substituted value
        ('{"a": 1,}', {"a": 1}),  # trailing comma
        ("{a: 1}", {"a": 1}),  # unquoted key
        ('[1, 2, {"b": [3]', [1, 2, {"b": [3]}]),  # unclosed brackets
        ('{"u": "ü"}', {"u": "ü"}),
        ('"text"', "text"),
        ("null", None),
    ],
)
def test_json_body_is_repaired(template: str, parsed: Any) -> None:
    spec = build(method="post", body={"type": "json", "data": [text_item(template)]})
    assert spec.content is not None
    assert json.loads(spec.content) == parsed


def test_unrepairable_json_body() -> None:
    with pytest.raises(HttpNodeError, match="not valid JSON") as caught:
        build(method="post", body={"type": "json", "data": [text_item("total garbage")]})
    assert caught.value.error_type == "RequestBodyError"


@pytest.mark.parametrize("header", ["Content-Type:application/vnd.x+json", "content-type:text/x"])
def test_content_type_only_when_the_user_set_none(header: str) -> None:
    spec = build(method="post", headers=header, body={"type": "json", "data": [text_item("{}")]})
    assert list(spec.headers) == [header.split(":")[0]]
    assert spec.headers[header.split(":")[0]] == header.split(":")[1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "xml", "data": []}, "Unsupported body type"),
        ({"type": "json", "data": 5}, "must be a list of items"),
        ("raw", "'body' must be a mapping"),
        (
            {"type": "binary", "data": [{"type": "file", "file": ["start", "nothing"]}]},
            "needs a file variable",
        ),
        ({"type": "binary", "data": []}, "needs a file variable"),
        ({"type": "binary", "data": [{"type": "file", "file": ["start", "id"]}]}, "is not a file"),
        (
            {"type": "form-data", "data": [{"type": "file", "key": "f", "file": "x"}]},
            "Invalid file selector",
        ),
    ],
)
def test_body_errors(body: Any, message: str) -> None:
    with pytest.raises(HttpNodeError, match=message):
        build(method="post", body=body)


# --- against a local server -------------------------------------------------------------------


def echoed(outputs: dict[str, Any]) -> dict[str, Any]:
    assert outputs["status_code"] == 200, outputs
    return json.loads(outputs["body"])


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_every_method_reaches_the_server(server: LocalServer, method: str) -> None:
    outputs = run({"method": method, "url": f"{server.base}/m"})
    assert echoed(outputs)["method"] == method.upper()
    assert outputs["files"] == []


def test_head(server: LocalServer) -> None:
    outputs = run({"method": "HEAD", "url": f"{server.base}/m"})
    assert outputs["status_code"] == 200
    assert outputs["body"] == ""
    assert [r.method for r in server.requests] == ["HEAD"]


def test_headers_and_params_as_received(server: LocalServer) -> None:
    outputs = run(
        {
            "method": "get",
            "url": f"{server.base}/items/{{{{#start.id#}}}}?fixed=1",
            "headers": "X-Trace:{{#sys.run#}}\nX-Empty",
            "params": "q:{{#start.q#}}\ntag:a\ntag:b",
        }
    )
    got = echoed(outputs)
    assert got["path"] == "/items/42?fixed=1&q=a+b%26c&tag=a&tag=b"
    assert got["headers"]["x-trace"] == "run-1"
    assert got["headers"]["x-empty"] == ""


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (api_key("bearer", "{{#env.KEY#}}"), "authorization", "Bearer s3cret"),
        (api_key("basic", "{{#env.USERPASS#}}"), "authorization", f"Basic {BASIC_UP}"),
        (api_key("basic", "abc"), "authorization", "Basic abc"),
        (api_key("custom", "{{#env.KEY#}}", "X-Api-Key"), "x-api-key", "s3cret"),
    ],
)
def test_auth_as_received(server: LocalServer, auth: Any, header: str, value: str) -> None:
    got = echoed(run({"method": "get", "url": f"{server.base}/a", "authorization": auth}))
    assert got["headers"][header] == value


def test_no_auth_sends_no_authorization(server: LocalServer) -> None:
    auth = {"type": "no-auth", "config": None}
    got = echoed(run({"method": "get", "url": f"{server.base}/a", "authorization": auth}))
    assert "authorization" not in got["headers"]


@pytest.mark.parametrize(
    ("body", "received", "content_type"),
    [
        ({"type": "none", "data": []}, b"", None),
        ({"type": "raw-text", "data": [text_item("hi {{#start.id#}}")]}, b"hi 42", "text/plain"),
        (
            {"type": "json", "data": [text_item('{"a": "{{#start.a#}}",}')]},
            b'{"a": "say \\"hi\\""}',
            "application/json",
        ),
        (
            {
                "type": "x-www-form-urlencoded",
                "data": [text_item("{{#start.q#}}", "q"), text_item("x", "q")],
            },
            b"q=a+b%26c&q=x",
            "application/x-www-form-urlencoded",
        ),
    ],
)
def test_simple_bodies_as_received(
    server: LocalServer, body: Any, received: bytes, content_type: str | None
) -> None:
    run({"method": "post", "url": f"{server.base}/b", "body": body})
    request = server.requests[-1]
    assert request.body == received
    assert request.headers.get("content-type") == content_type


def multipart_parts(request: Recorded) -> list[tuple[str | None, str | None, str, bytes]]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    assert message.is_multipart()
    return [
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


PDF_BYTES = b"%PDF-1.4 \x00\x01\x02 binary"


def file_value(server: LocalServer, path: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "document",
        "transfer_method": "remote_url",
        "url": f"{server.base}{path}",
        "name": "",
        "mime_type": "",
        **extra,
    }


def test_form_data_text_fields_only_is_still_multipart(server: LocalServer) -> None:
    body = {"type": "form-data", "data": [text_item("{{#start.q#}}", "q"), text_item("2", "n")]}
    run({"method": "post", "url": f"{server.base}/f", "body": body})
    request = server.requests[-1]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert multipart_parts(request) == [
        ("q", None, "text/plain", b"a b&c"),
        ("n", None, "text/plain", b"2"),
    ]


def test_form_data_with_files_as_received(server: LocalServer) -> None:
    server.route("/doc.pdf", Reply(200, PDF_BYTES, {"Content-Type": "application/pdf"}))
    server.route("/img", Reply(200, b"\x89PNG..", {"Content-Type": "image/png"}))
    files = {
        "start.doc": file_value(server, "/doc.pdf"),
        "start.imgs": [
            file_value(server, "/img", name="a.png", mime_type="image/png"),
            file_value(server, "/img", name="b.png"),
        ],
        "start.none": None,
    }
    body = {
        "type": "form-data",
        "data": [
            text_item("v", "field"),
            {"type": "file", "key": "doc", "file": ["start", "doc"]},
            {"type": "file", "key": "pics", "file": ["start", "imgs"]},
            {"type": "file", "key": "skipped", "file": ["start", "none"]},
            {"type": "file", "key": "absent", "file": ["start", "missing"]},
        ],
    }
    headers = "Content-Type: multipart/form-data"  # without a boundary: ours is used
    run(
        {"method": "post", "url": f"{server.base}/f", "body": body, "headers": headers},
        make_resolve(files),
    )
    request = server.requests[-1]
    assert request.path == "/f"
    assert multipart_parts(request) == [
        ("field", None, "text/plain", b"v"),
        ("doc", "doc.pdf", "application/pdf", PDF_BYTES),
        ("pics", "a.png", "image/png", b"\x89PNG.."),
        ("pics", "b.png", "image/png", b"\x89PNG.."),
    ]


def test_binary_body_as_received(server: LocalServer) -> None:
    server.route("/doc.pdf", Reply(200, PDF_BYTES, {"Content-Type": "application/pdf"}))
    body = {"type": "binary", "data": [{"type": "file", "file": ["start", "doc"]}]}
    run(
        {"method": "put", "url": f"{server.base}/upload", "body": body},
        make_resolve({"start.doc": file_value(server, "/doc.pdf")}),
    )
    request = server.requests[-1]
    assert (request.method, request.path) == ("PUT", "/upload")
    assert request.body == PDF_BYTES
    assert request.headers["content-type"] == "application/octet-stream"


def test_a_file_that_is_not_remote_cannot_be_sent(server: LocalServer) -> None:
    local = {"type": "document", "transfer_method": "local_file", "related_id": "u1"}
    body = {"type": "binary", "data": [{"type": "file", "file": ["start", "doc"]}]}
    with pytest.raises(HttpNodeError, match="only files given by URL") as caught:
        run(
            {"method": "post", "url": f"{server.base}/u", "body": body},
            make_resolve({"start.doc": local}),
        )
    assert caught.value.error_type == "FileFetchError"
    assert server.requests == []


def test_a_file_that_cannot_be_fetched(server: LocalServer) -> None:
    server.route("/gone", Reply(404, b"no"))
    body = {"type": "binary", "data": [{"type": "file", "file": ["start", "doc"]}]}
    with pytest.raises(HttpNodeError, match="answered 404"):
        run(
            {"method": "post", "url": f"{server.base}/u", "body": body},
            make_resolve({"start.doc": file_value(server, "/gone")}),
        )
    assert [r.path for r in server.requests] == ["/gone"]


def test_file_fetch_for_a_body_is_vetted_too(server: LocalServer) -> None:
    body = {"type": "binary", "data": [{"type": "file", "file": ["start", "doc"]}]}
    evil = {
        "type": "document",
        "transfer_method": "remote_url",
        "url": "http://169.254.169.254/latest/meta-data/",
    }
    with pytest.raises(HttpNodeError, match="not allowed"):
        run(
            {"method": "post", "url": f"{server.base}/u", "body": body},
            make_resolve({"start.doc": evil}),
        )
    assert server.requests == []


# --- responses --------------------------------------------------------------------------------


def test_text_response_outputs(server: LocalServer) -> None:
    server.route(
        "/t",
        Reply(
            201, "héllo".encode(), {"Content-Type": "text/plain; charset=utf-8", "X-Reply": "yes"}
        ),
    )
    outputs = run({"method": "get", "url": f"{server.base}/t"})
    assert outputs["status_code"] == 201
    assert outputs["body"] == "héllo"
    assert outputs["files"] == []
    assert outputs["headers"]["x-reply"] == "yes"
    assert outputs["headers"]["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("headers", "content", "is_file"),
    [
        ({"Content-Type": "application/json"}, b'{"a": 1}', False),
        ({"Content-Type": "application/problem+json"}, b"{}", False),
        ({"Content-Type": "application/xml"}, b"<a/>", False),
        ({"Content-Type": "text/html"}, b"<p>", False),
        ({}, b"plain words", False),
        ({}, b"\xff\xfe\x00binary", True),
        ({"Content-Type": "image/png"}, b"\x89PNG", True),
        ({"Content-Type": "application/pdf"}, PDF_BYTES, True),
        ({"Content-Type": "application/octet-stream"}, b"abc", True),
        (
            {"Content-Type": "text/csv", "Content-Disposition": 'attachment; filename="r.csv"'},
            b"a,b",
            True,
        ),
        ({"Content-Type": "text/plain", "Content-Disposition": "inline"}, b"x", False),
    ],
)
def test_text_or_file_response(
    server: LocalServer, headers: dict[str, str], content: bytes, is_file: bool
) -> None:
    server.route("/r", Reply(200, content, headers))
    outputs = run({"method": "get", "url": f"{server.base}/r"})
    if is_file:
        assert outputs["body"] == ""
        assert len(outputs["files"]) == 1
        assert outputs["files"][0]["size"] == len(content)
    else:
        assert outputs["body"] == content.decode()
        assert outputs["files"] == []


def test_file_response_value(server: LocalServer) -> None:
    server.route(
        "/dl",
        Reply(
            200,
            PDF_BYTES,
            {
                "Content-Type": "application/pdf",
                "Content-Disposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
            },
        ),
    )
    server.route("/pics/cat", Reply(200, b"\x89PNG", {"Content-Type": "image/png"}))
    doc = run({"method": "get", "url": f"{server.base}/dl"})["files"][0]
    assert doc == {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "remote_url",
        "url": f"{server.base}/dl",
        "remote_url": f"{server.base}/dl",
        "related_id": None,
        "name": "résumé.pdf",
        "extension": ".pdf",
        "mime_type": "application/pdf",
        "size": len(PDF_BYTES),
    }
    pic = run({"method": "get", "url": f"{server.base}/pics/cat"})["files"][0]
    assert (pic["type"], pic["name"], pic["extension"]) == ("image", "cat.png", ".png")


@pytest.mark.parametrize("status", [301, 404, 500, 503])
def test_non_2xx_is_still_outputs(server: LocalServer, status: int) -> None:
    server.route("/s", Reply(status, b"oops", {"Content-Type": "text/plain"}))
    outputs = run({"method": "get", "url": f"{server.base}/s"})
    assert (outputs["status_code"], outputs["body"]) == (status, "oops")


@pytest.mark.parametrize(
    ("status", "data", "failure"),
    [
        (200, {"error_strategy": "fail-branch"}, False),
        (204, {"retry_config": {"retry_enabled": True}}, False),
        (404, {}, False),
        (500, {"error_strategy": None, "retry_config": {"retry_enabled": False}}, False),
        (404, {"error_strategy": "fail-branch"}, True),
        (500, {"error_strategy": "default-value"}, True),
        (503, {"retry_config": {"max_retries": 3, "retry_enabled": True}}, True),
        (302, {"error_strategy": "fail-branch"}, True),
        (199, {"retry_config": {"retry_enabled": True}}, True),
    ],
)
def test_is_failure(status: int, data: dict[str, Any], failure: bool) -> None:
    assert is_failure(status, data) is failure
    outputs = {"status_code": status, "body": "b", "headers": {}, "files": []}
    if failure:
        with pytest.raises(HttpResponseCodeError) as caught:
            check_status(outputs, data)
        assert caught.value.error_type == "HTTPResponseCodeError"
        assert str(caught.value) == f"Request failed with status code {status}"
        assert caught.value.outputs == outputs
    else:
        check_status(outputs, data)


# --- timeouts and size caps -------------------------------------------------------------------


def test_read_timeout(server: LocalServer) -> None:
    server.route("/slow", Reply(200, b"late", delay=1.5))
    with pytest.raises(HttpNodeError, match="timed out"):
        run({"method": "get", "url": f"{server.base}/slow", "timeout": {"read": 0.3}})


def test_read_timeout_ceiling_from_settings(server: LocalServer, settings: Any) -> None:
    settings.HTTP_NODE_MAX_READ_TIMEOUT = 1
    server.route("/slow", Reply(200, b"late", delay=2.0))
    with pytest.raises(HttpNodeError, match="timed out"):
        run({"method": "get", "url": f"{server.base}/slow", "timeout": {"read": 0}})


def test_within_timeout(server: LocalServer) -> None:
    server.route("/slowish", Reply(200, b"ok", {"Content-Type": "text/plain"}, delay=0.2))
    outputs = run({"method": "get", "url": f"{server.base}/slowish", "timeout": {"read": 5}})
    assert outputs["body"] == "ok"


@pytest.mark.parametrize(
    ("content_type", "size", "caps", "error"),
    [
        ("text/plain", 100, {"max_text_bytes": 100, "max_binary_bytes": 10}, None),
        ("text/plain", 101, {"max_text_bytes": 100, "max_binary_bytes": 1000}, "text response"),
        ("image/png", 1000, {"max_text_bytes": 10, "max_binary_bytes": 1000}, None),
        ("image/png", 101, {"max_text_bytes": 1000, "max_binary_bytes": 100}, "file in the"),
        ("text/plain", 1001, {"max_text_bytes": 10, "max_binary_bytes": 1000}, "larger than"),
        ("image/png", 5000, {"max_text_bytes": 10, "max_binary_bytes": 1000}, "larger than"),
    ],
)
def test_size_caps(
    server: LocalServer, content_type: str, size: int, caps: dict[str, int], error: str | None
) -> None:
    server.route("/big", Reply(200, b"a" * size, {"Content-Type": content_type}))
    data = {"method": "get", "url": f"{server.base}/big"}
    if error is None:
        outputs = run(data, **caps)
        assert len(outputs["body"]) == size or outputs["files"][0]["size"] == size
        return
    with pytest.raises(HttpNodeError, match=error) as caught:
        run(data, **caps)
    assert caught.value.error_type == "ResponseSizeError"


# --- refused targets --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "2130706433", "[::1]", "127.1", "0x7f000001"])
def test_loopback_targets_are_refused_without_a_request(server: LocalServer, host: str) -> None:
    with pytest.raises(HttpNodeError, match="not allowed") as caught:
        run({"method": "get", "url": f"http://{host}:{server.port}/secret"})
    assert caught.value.error_type == "RequestRefusedError"
    assert server.requests == []


def test_redirect_to_the_metadata_address_is_refused(server: LocalServer) -> None:
    server.route("/hop", Reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    with pytest.raises(HttpNodeError, match="not allowed"):
        run({"method": "get", "url": f"{server.base}/hop"})
    assert [r.path for r in server.requests] == ["/hop"]


def test_redirect_within_the_allowed_host_is_followed(server: LocalServer) -> None:
    server.route("/hop", Reply(302, b"", {"Location": "/dest"}))
    server.route("/dest", Reply(200, b"arrived", {"Content-Type": "text/plain"}))
    outputs = run({"method": "get", "url": f"{server.base}/hop"})
    assert outputs["body"] == "arrived"


def test_the_local_server_itself_is_refused_when_not_allowed(
    http_server: LocalServer, settings: Any
) -> None:
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    with pytest.raises(HttpNodeError, match="not allowed"):
        run({"method": "get", "url": f"{http_server.base}/x"})
    assert http_server.requests == []


def test_form_body_query_is_not_the_url_query(server: LocalServer) -> None:
    body = {"type": "x-www-form-urlencoded", "data": [text_item("1", "a")]}
    run({"method": "post", "url": f"{server.base}/p", "params": "b:2", "body": body})
    request = server.requests[-1]
    assert request.path == "/p?b=2"
    assert parse_qsl(request.body.decode()) == [("a", "1")]
