"""Text out of a document's bytes (the ``document-extractor`` node), pure: no I/O.

Plain text and Markdown as they are, HTML as its visible text (BeautifulSoup), CSV as a Markdown
table, JSON pretty-printed, PDF page by page (pypdf), DOCX paragraphs and tables in document
order (python-docx). The format comes from the file's extension, else its MIME type. Anything that
cannot be read raises :class:`DocumentError` with a message naming the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable

TEXT = "text"
HTML = "html"
CSV = "csv"
JSON = "json"
PDF = "pdf"
DOCX = "docx"

EXTENSIONS = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": TEXT,
    ".markdown": TEXT,
    ".mdx": TEXT,
    ".html": HTML,
    ".htm": HTML,
    ".csv": CSV,
    ".json": JSON,
    ".pdf": PDF,
    ".docx": DOCX,
}
MIME_TYPES = {
    "text/plain": TEXT,
    "text/markdown": TEXT,
    "text/x-markdown": TEXT,
    "text/html": HTML,
    "application/xhtml+xml": HTML,
    "text/csv": CSV,
    "application/json": JSON,
    "application/pdf": PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": DOCX,
}
HTML_BLOCKS = [
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
    "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
]  # fmt: skip
# Every part of a DOCX together, unpacked (the archive itself is capped by the node's setting).
DOCX_MAX_EXPANDED_BYTES = 128 * 1024 * 1024
BLANK_RUNS = re.compile(r"\n\s*\n\s*\n+")


class DocumentError(Exception):
    """The document cannot be read; the message names the file and says why."""


def document_format(extension: str, mime_type: str) -> str | None:
    found = EXTENSIONS.get((extension or "").lower())
    if found is None:
        found = MIME_TYPES.get((mime_type or "").split(";")[0].strip().lower())
    return found


def extract_text(
    name: str, content: bytes, *, extension: str, mime_type: str, max_pages: int
) -> str:
    kind = document_format(extension, mime_type)
    if kind is None:
        shown = extension or mime_type or "unknown"
        raise DocumentError(f"Cannot extract text from {name!r}: unsupported file type {shown}")
    try:
        return _READERS[kind](name, content, max_pages)
    except DocumentError:
        raise
    except Exception as exc:  # a damaged file of any format: the library's own error
        raise DocumentError(
            f"Cannot extract text from {name!r}: the file is not a readable {kind.upper()} "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _decode(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError(f"Cannot extract text from {name!r}: it is not UTF-8 text") from None


def _text(name: str, content: bytes, _max_pages: int) -> str:
    return _decode(name, content)


def _html(name: str, content: bytes, _max_pages: int) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(content, "html.parser")
    for hidden in soup(["script", "style", "template", "noscript"]):
        hidden.decompose()
    # Block elements start and end a line; inline ones (b, a, span) stay inside theirs.
    for block in soup.find_all(HTML_BLOCKS):
        block.insert_before("\n")
        block.insert_after("\n")
    text = soup.get_text()
    lines = [line.strip() for line in text.splitlines()]
    return BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def markdown_table(rows: Iterable[list[str]]) -> str:
    """Rows as a Markdown table, the first row as its header."""

    def cell(value: str) -> str:
        return " ".join((value or "").split()).replace("|", "\\|")

    table = [[cell(v) for v in row] for row in rows]
    if not table:
        return ""
    width = max(len(row) for row in table)
    table = [row + [""] * (width - len(row)) for row in table]
    lines = ["| " + " | ".join(table[0]) + " |", "| " + " | ".join(["---"] * width) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in table[1:])
    return "\n".join(lines)


def _csv(name: str, content: bytes, _max_pages: int) -> str:
    text = _decode(name, content)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(v.strip() for v in row)]
    return markdown_table(rows)


def _json(name: str, content: bytes, _max_pages: int) -> str:
    try:
        value = json.loads(_decode(name, content))
    except ValueError as exc:
        raise DocumentError(f"Cannot extract text from {name!r}: invalid JSON ({exc})") from None
    return json.dumps(value, ensure_ascii=False, indent=2)


def _pdf(name: str, content: bytes, max_pages: int) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    if reader.is_encrypted and not reader.decrypt(""):
        raise DocumentError(f"Cannot extract text from {name!r}: the PDF is password-protected")
    count = len(reader.pages)
    if count > max_pages:
        raise DocumentError(
            f"Cannot extract text from {name!r}: it has {count} pages, more than the "
            f"{max_pages} allowed"
        )
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    return "\n\n".join(page for page in pages if page)


def _docx(name: str, content: bytes, _max_pages: int) -> str:
    import docx
    from docx.table import Table

    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise DocumentError(f"Cannot extract text from {name!r}: the file is not a DOCX document")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    if expanded > DOCX_MAX_EXPANDED_BYTES:
        # A small archive that unpacks to gigabytes would exhaust the worker's memory.
        raise DocumentError(
            f"Cannot extract text from {name!r}: it unpacks to more than "
            f"{DOCX_MAX_EXPANDED_BYTES} bytes"
        )
    document = docx.Document(io.BytesIO(content))
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            table = markdown_table(rows)
            if table:
                blocks.append(table)
        elif block.text.strip():
            blocks.append(block.text)
    return "\n".join(blocks)


_READERS: dict[str, Callable[[str, bytes, int], str]] = {
    TEXT: _text,
    HTML: _html,
    CSV: _csv,
    JSON: _json,
    PDF: _pdf,
    DOCX: _docx,
}
