"""``document-extractor`` (dsl.md §4.14): the text of the file (or of each file of an array) at
``variable_selector``. Uploads given to the run are read through the host; remote files are
fetched through the one outbound client (private addresses refused). Output ``text``: a string
for one file, an array of strings for an array of files."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

from apps_runtime.engine import outbound
from apps_runtime.engine.documents import DocumentError, extract_text
from apps_runtime.engine.host import FileUnavailable
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.variables import file_attribute, is_file


def _url_name(url: str) -> str:
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    return unquote(path.rsplit("/", 1)[-1])


def _extension(name: str) -> str:
    return "." + name.rsplit(".", 1)[1].lower() if "." in name else ""


def file_text(ctx: RunContext, file: dict[str, Any]) -> str:
    """The text of one file value; raises ``NodeFailed`` naming the file."""
    max_bytes = settings.DOCUMENT_EXTRACTOR_MAX_BYTES
    url = file_attribute(file, "url")
    name = str(file_attribute(file, "name") or "") or (_url_name(str(url)) if url else "") or "file"
    extension = str(file_attribute(file, "extension") or "") or _extension(name)
    mime_type = str(file.get("mime_type") or "")
    method = file.get("transfer_method")
    upload_id = file_attribute(file, "related_id")
    if method != "remote_url" and upload_id:
        try:
            content = ctx.host.read_upload(str(upload_id), max_bytes)
        except FileUnavailable as exc:
            raise NodeFailed(f"Cannot read {name!r}: {exc}", "FileReadError") from None
    elif url:
        try:
            response = outbound.fetch(
                "GET", str(url), max_bytes=max_bytes, should_stop=ctx.host.should_stop
            )
        except outbound.OutboundTooLarge:
            raise NodeFailed(
                f"Cannot read {name!r}: it is larger than {max_bytes} bytes", "FileReadError"
            ) from None
        except outbound.OutboundError as exc:
            raise NodeFailed(f"Cannot fetch {name!r}: {exc}", "FileReadError") from None
        if not 200 <= response.status_code < 300:
            raise NodeFailed(
                f"Cannot fetch {name!r}: the server answered {response.status_code}",
                "FileReadError",
            )
        content = response.content
        if not mime_type:
            mime_type = response.headers.get("content-type", "")
    else:
        raise NodeFailed(
            f"Cannot read {name!r}: the file has no upload and no URL", "FileReadError"
        )
    try:
        return extract_text(
            name,
            content,
            extension=extension,
            mime_type=mime_type,
            max_pages=settings.DOCUMENT_EXTRACTOR_MAX_PAGES,
        )
    except DocumentError as exc:
        raise NodeFailed(str(exc), "DocumentExtractError") from None


@register("document-extractor")
class DocumentExtractorNode(Node):
    def run(self, ctx: RunContext) -> NodeResult:
        selector = self.data.get("variable_selector") or []
        value = ctx.input_value(selector)
        if value is None:
            value = [] if self.data.get("is_array_file") else None
        if value is None:
            text: str | list[str] = ""
        elif isinstance(value, list):
            if not all(is_file(item) for item in value):
                raise NodeFailed(
                    f"Variable {list(selector)} is not an array of files", "InvalidVariableType"
                )
            texts = []
            for item in value:
                ctx.check_stop()
                texts.append(file_text(ctx, item))
            text = texts
        elif is_file(value):
            text = file_text(ctx, value)
        else:
            raise NodeFailed(f"Variable {list(selector)} is not a file", "InvalidVariableType")
        return NodeResult(inputs={"variable_selector": list(selector)}, outputs={"text": text})
