"""document-extractor: text of uploads (through the host) and remote files (through the outbound
client) in every supported format; an unreadable file fails the node naming it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node
from apps_runtime.engine.tests.httpserver import Reply
from apps_runtime.engine.tests.sample_documents import make_docx, make_pdf
from tests.drip import dripping_server

UPLOAD = "3f7b9c3e-0000-4000-8000-000000000001"


def upload(name: str, upload_id: str = UPLOAD, **extra: Any) -> dict[str, Any]:
    extension = "." + name.rsplit(".", 1)[1] if "." in name else ""
    return {
        "dify_model_identity": "__dify__file__",
        "type": "document",
        "transfer_method": "local_file",
        "related_id": upload_id,
        "upload_file_id": upload_id,
        "name": name,
        "extension": extension,
        "mime_type": "",
        "url": None,
        **extra,
    }


def _run(
    value: Any,
    uploads: dict[str, bytes] | None = None,
    host: RecordingHost | None = None,
    **data: Any,
) -> Any:
    data.setdefault("variable_selector", ["sys", "files"])
    nodes = [
        node("start", "start", variables=[]),
        node("doc", "document-extractor", **data),
        node("end", "end", outputs=[{"variable": "text", "value_selector": ["doc", "text"]}]),
    ]
    return run_workflow(
        graph(nodes, [edge("start", "doc"), edge("doc", "end")]),
        mode="workflow",
        inputs={},
        system={"files": value},
        environment={},
        conversation={},
        host=host or RecordingHost(uploads=dict(uploads or {})),
    )


CSV_TEXT = "name,qty\nbolt,4\n\nnut | washer,10\n"
HTML_TEXT = (
    "<html><head><style>p{color:red}</style><script>var x=1</script></head>"
    "<body><h1>Title</h1><p>First <b>bold</b> line</p>\n\n\n<p>Second</p></body></html>"
)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.txt", "plain ✓ text\nline 2".encode(), "plain ✓ text\nline 2"),
        ("readme.md", b"# Head\n\n- item", "# Head\n\n- item"),
        ("page.html", HTML_TEXT.encode(), "Title\n\nFirst bold line\n\nSecond"),
        (
            "parts.csv",
            CSV_TEXT.encode(),
            "| name | qty |\n| --- | --- |\n| bolt | 4 |\n| nut \\| washer | 10 |",
        ),
        (
            "data.json",
            b'{"a":[1,2],"b":"\xc3\xa9"}',
            json.dumps({"a": [1, 2], "b": "é"}, indent=2, ensure_ascii=False),
        ),
        (
            "report.pdf",
            make_pdf(["Quarterly report", "Page (two)"]),
            "Quarterly report\n\nPage (two)",
        ),
        (
            "memo.docx",
            make_docx(["Dear team,", "Ship it."], [["item", "owner"], ["docs", "Ann"]]),
            "Dear team,\nShip it.\n| item | owner |\n| --- | --- |\n| docs | Ann |",
        ),
        ("bom.txt", b"\xef\xbb\xbfwith bom", "with bom"),
    ],
)
def test_each_format_of_an_upload(name, content, expected):
    outcome = _run(upload(name), {UPLOAD: content})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["text"] == expected


def test_the_mime_type_decides_when_the_name_has_no_extension():
    file = upload("report", mime_type="application/pdf")
    outcome = _run(file, {UPLOAD: make_pdf(["by mime"])})
    assert outcome.outputs["text"] == "by mime"


def test_an_array_of_files_gives_an_array_of_texts_in_order():
    second = "3f7b9c3e-0000-4000-8000-000000000002"
    files = [upload("a.txt"), upload("b.md", second)]
    outcome = _run(files, {UPLOAD: b"alpha", second: b"beta"}, is_array_file=True)
    assert outcome.outputs["text"] == ["alpha", "beta"]
    assert _run(None, is_array_file=True).outputs["text"] == []
    assert _run(None).outputs["text"] == ""


@pytest.mark.parametrize(
    ("file", "uploads", "message"),
    [
        (
            upload("photo.png"),
            {UPLOAD: b"\x89PNG"},
            "Cannot extract text from 'photo.png': unsupported file type .png",
        ),
        (
            upload("broken.pdf"),
            {UPLOAD: b"not a pdf at all"},
            "'broken.pdf': the file is not a readable PDF",
        ),
        (upload("broken.docx"), {UPLOAD: b"PK nope"}, "'broken.docx'"),
        (upload("bad.json"), {UPLOAD: b"{oops"}, "'bad.json': invalid JSON"),
        (upload("latin.txt"), {UPLOAD: b"caf\xe9"}, "'latin.txt': it is not UTF-8 text"),
        (upload("gone.txt"), {}, "Cannot read 'gone.txt': this run was not given that upload"),
        (
            {"name": "x.txt", "transfer_method": "local_file", "url": None},
            {},
            "'x.txt': the file has no upload",
        ),
    ],
)
def test_unreadable_files_fail_the_node_naming_the_file(file, uploads, message):
    outcome = _run(file, uploads)
    assert outcome.status == "failed"
    assert message in outcome.error


def test_size_and_page_limits_are_settings(settings):
    settings.DOCUMENT_EXTRACTOR_MAX_BYTES = 10
    outcome = _run(upload("big.txt"), {UPLOAD: b"x" * 11})
    assert (
        outcome.status == "failed" and "'big.txt'" in outcome.error and "10 bytes" in outcome.error
    )
    settings.DOCUMENT_EXTRACTOR_MAX_BYTES = 10_000
    settings.DOCUMENT_EXTRACTOR_MAX_PAGES = 2
    outcome = _run(upload("long.pdf"), {UPLOAD: make_pdf(["1", "2", "3"])})
    assert outcome.status == "failed"
    assert "'long.pdf': it has 3 pages, more than the 2 allowed" in outcome.error
    assert _run(upload("ok.pdf"), {UPLOAD: make_pdf(["1", "2"])}).status == "succeeded"


@pytest.mark.parametrize(
    ("value", "message"),
    [("text", "is not a file"), ([1], "is not an array of files"), (..., "not found")],
)
def test_a_variable_that_is_not_a_file(value, message):
    if value is ...:
        outcome = _run(None, variable_selector=["sys", "nothing"])
    else:
        outcome = _run(value)
    assert outcome.status == "failed" and message in outcome.error


def test_a_remote_file_is_fetched_through_the_outbound_client(http_server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/files/memo.docx", Reply(200, make_docx(["remote words"])))
    url = http_server.base + "/files/memo.docx"
    file = {"type": "document", "transfer_method": "remote_url", "url": url}
    outcome = _run(file)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["text"] == "remote words"


def test_a_remote_file_on_a_private_address_is_refused(http_server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    url = http_server.base + "/a.txt"
    file = {"type": "document", "transfer_method": "remote_url", "url": url}
    outcome = _run(file)
    assert outcome.status == "failed"
    assert "Cannot fetch 'a.txt'" in outcome.error
    assert http_server.requests == []


def test_a_remote_error_status_fails_naming_the_file(http_server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    http_server.route("/x/notes.txt", Reply(404, b"missing"))
    url = http_server.base + "/x/notes.txt"
    file = {"type": "document", "transfer_method": "remote_url", "url": url}
    outcome = _run(file)
    assert outcome.status == "failed"
    assert "Cannot fetch 'notes.txt': the server answered 404" in outcome.error


def test_a_stop_reaches_a_remote_fetch_from_a_dripping_server_within_a_second(settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    stop_at = time.monotonic() + 0.3
    host = RecordingHost(stop_when=lambda h: time.monotonic() >= stop_at)
    with dripping_server(every=0.3, lasts=10) as drip:
        file = {"type": "document", "transfer_method": "remote_url", "url": drip.base + "/a.txt"}
        outcome = _run(file, host=host)
        stopped_after = time.monotonic() - stop_at
    assert outcome.status == "stopped", outcome.error
    assert stopped_after < 1.0, stopped_after


def test_a_docx_that_unpacks_past_the_cap_is_refused(monkeypatch):
    from apps_runtime.engine import documents

    content = make_docx(["fine"])
    monkeypatch.setattr(documents, "DOCX_MAX_EXPANDED_BYTES", 1000)
    outcome = _run(upload("bomb.docx"), {UPLOAD: content})
    assert outcome.status == "failed"
    assert "'bomb.docx': it unpacks to more than 1000 bytes" in outcome.error
