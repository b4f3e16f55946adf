"""The http-request node's request and response rules (dsl.md §4.8), apart from the node itself.

``build_request`` turns node data into an :class:`HttpRequestSpec` using the run's ``render`` and
``resolve``; it makes no network call. ``send`` makes the request through
:mod:`apps_runtime.engine.outbound` (so every target, redirects included, is vetted) and shapes the
response into the node's outputs. Everything that goes wrong raises :class:`HttpNodeError` with a
message meant for the app's author and an ``error_type`` for the node's error outputs.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

import httpx
import json_repair
from django.conf import settings
from urllib3 import encode_multipart_formdata

from apps_runtime.engine import outbound
from apps_runtime.engine.variables import FILE_IDENTITY, MISSING, file_attribute, is_file

Resolve = Callable[[Sequence[str]], Any]
Render = Callable[[str], str]

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
BODY_TYPES = frozenset({"none", "raw-text", "json", "x-www-form-urlencoded", "form-data", "binary"})
# The Content-Type a body type implies; added only when the author set none. form-data gets its
# boundary when the body is encoded.
BODY_CONTENT_TYPES = {
    "raw-text": "text/plain",
    "json": "application/json",
    "x-www-form-urlencoded": "application/x-www-form-urlencoded",
    "binary": "application/octet-stream",
}
ERROR_STRATEGIES = frozenset({"fail-branch", "default-value"})
# MIME types that are text even though they are not text/*.
TEXT_MIME_TYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/x-ndjson",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
        "application/sql",
        "application/xhtml+xml",
        "application/problem+json",
    }
)
DOCUMENT_EXTENSIONS = frozenset(
    {
        ".txt", ".md", ".markdown", ".mdx", ".pdf", ".html", ".htm", ".xlsx", ".xls", ".doc",
        ".docx", ".csv", ".eml", ".msg", ".pptx", ".ppt", ".xml", ".epub", ".json", ".rtf",
    }
)  # fmt: skip


class HttpNodeError(Exception):
    """The request could not be built or made, or its response not used."""

    def __init__(self, message: str, *, error_type: str = "HttpRequestNodeError") -> None:
        super().__init__(message)
        self.error_type = error_type


class HttpResponseCodeError(HttpNodeError):
    """A non-2xx answer on a node that handles errors (see :func:`is_failure`)."""

    def __init__(self, status_code: int, outputs: Mapping[str, Any]) -> None:
        super().__init__(
            f"Request failed with status code {status_code}", error_type="HTTPResponseCodeError"
        )
        self.status_code = status_code
        self.outputs = dict(outputs)


@dataclass(frozen=True)
class HttpTimeouts:
    connect: float
    read: float
    write: float


@dataclass
class HttpRequestSpec:
    method: str
    url: str
    headers: dict[str, str]
    params: list[tuple[str, str]]
    timeout: HttpTimeouts
    verify: bool = True
    body_type: str = "none"
    # raw-text, json and x-www-form-urlencoded bodies, already encoded
    content: bytes | None = None
    # form-data: text fields, and file fields as file values (fetched by ``send``)
    form_fields: list[tuple[str, str]] = field(default_factory=list)
    form_files: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    # binary: one file value
    binary_file: Mapping[str, Any] | None = None
    # Headers that carry credentials (from ``authorization``), to mask wherever they are shown.
    secret_headers: frozenset[str] = frozenset()

    def shown_headers(self) -> dict[str, str]:
        """The headers with credentials masked, for the node's recorded inputs."""
        secret = {name.lower() for name in self.secret_headers}
        return {k: "******" if k.lower() in secret else v for k, v in self.headers.items()}


# --- building -------------------------------------------------------------------------------


def build_request(data: Mapping[str, Any], render: Render, resolve: Resolve) -> HttpRequestSpec:
    method = str(data.get("method") or "").strip().upper()
    if method not in METHODS:
        raise HttpNodeError(
            f"Invalid HTTP method: {data.get('method')!r}", error_type="InvalidHttpMethodError"
        )
    url = render(str(data.get("url") or "")).strip()
    if not url.lower().startswith(("http://", "https://")):
        raise HttpNodeError("URL must start with http:// or https://", error_type="InvalidURLError")

    headers = parse_headers(render(_text(data.get("headers"), "headers")))
    params = parse_params(_text(data.get("params"), "params"), render)
    auth_header = _apply_authorization(headers, data.get("authorization"), render)

    spec = HttpRequestSpec(
        method=method,
        url=url,
        headers=headers,
        params=params,
        timeout=_timeouts(data.get("timeout")),
        verify=_verify(data.get("ssl_verify")),
        secret_headers=frozenset({auth_header} if auth_header else ()),
    )
    _apply_body(spec, data.get("body"), render, resolve)
    return spec


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        # Some older definitions store headers/params as a mapping instead of text.
        return "\n".join(f"{key}:{item}" for key, item in value.items())
    if not isinstance(value, str):
        raise HttpNodeError(f"'{name}' must be text with one 'key:value' per line")
    return value


def _lines(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _sep, value = line.partition(":")
        pairs.append((key.strip(), value.strip()))
    return pairs


def parse_headers(text: str) -> dict[str, str]:
    """One header per line, split at the first ``:``; a later line replaces an earlier one with
    the same name (names compare without case)."""
    headers: dict[str, str] = {}
    for key, value in _lines(text):
        if key:
            _set_header(headers, key, value)
    return headers


def parse_params(text: str, render: Render) -> list[tuple[str, str]]:
    """One parameter per line, key and value rendered separately; duplicates are kept."""
    params = []
    for key, value in _lines(text):
        name = render(key)
        if name:
            params.append((name, render(value)))
    return params


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    for existing in [k for k in headers if k.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    return any(k.lower() == name.lower() for k in headers)


def _apply_authorization(headers: dict[str, str], auth: Any, render: Render) -> str | None:
    """Adds the credentials header; returns its name (None without authorization)."""
    if not auth:
        return None
    if not isinstance(auth, Mapping):
        raise HttpNodeError(
            "'authorization' must be a mapping", error_type="AuthorizationConfigError"
        )
    kind = auth.get("type") or "no-auth"
    if kind == "no-auth":
        return None
    if kind != "api-key":
        raise HttpNodeError(
            f"Unsupported authorization type: {kind!r}", error_type="AuthorizationConfigError"
        )
    config = auth.get("config")
    if not isinstance(config, Mapping):
        raise HttpNodeError(
            "API-key authorization needs a config", error_type="AuthorizationConfigError"
        )
    key = render(str(config.get("api_key") or ""))
    if not key:
        raise HttpNodeError("API key is required", error_type="AuthorizationConfigError")
    header = render(str(config.get("header") or "")).strip()
    scheme = config.get("type") or "bearer"
    if scheme == "bearer":
        value = f"Bearer {key}"
    elif scheme == "basic":
        # A "user:password" key is encoded; anything else is taken as already encoded.
        value = "Basic " + (base64.b64encode(key.encode()).decode() if ":" in key else key)
    elif scheme == "custom":
        if not header:
            raise HttpNodeError(
                "Custom authorization needs a header name", error_type="AuthorizationConfigError"
            )
        value = key
    else:
        raise HttpNodeError(
            f"Unsupported API-key type: {scheme!r}", error_type="AuthorizationConfigError"
        )
    name = header or "Authorization"
    _set_header(headers, name, value)
    return name


def _timeouts(raw: Any) -> HttpTimeouts:
    """Seconds from the node; zero or missing means the server maximum, which is also a ceiling."""
    raw = raw if isinstance(raw, Mapping) else {}
    ceilings = {
        "connect": settings.HTTP_NODE_MAX_CONNECT_TIMEOUT,
        "read": settings.HTTP_NODE_MAX_READ_TIMEOUT,
        "write": settings.HTTP_NODE_MAX_WRITE_TIMEOUT,
    }
    values = {}
    for name, ceiling in ceilings.items():
        value = raw.get(name)
        try:
            seconds = float(value) if value not in (None, "") else 0.0
        except (TypeError, ValueError):
            raise HttpNodeError(f"Timeout '{name}' must be a number of seconds") from None
        values[name] = min(seconds, float(ceiling)) if seconds > 0 else float(ceiling)
    return HttpTimeouts(**values)


def _verify(raw: Any) -> bool:
    if raw is None:
        return bool(settings.HTTP_NODE_SSL_VERIFY)
    return bool(raw)


def _apply_body(spec: HttpRequestSpec, body: Any, render: Render, resolve: Resolve) -> None:
    if not body:
        return
    if not isinstance(body, Mapping):
        raise HttpNodeError("'body' must be a mapping", error_type="RequestBodyError")
    kind = body.get("type") or "none"
    if kind not in BODY_TYPES:
        raise HttpNodeError(f"Unsupported body type: {kind!r}", error_type="RequestBodyError")
    spec.body_type = kind
    if kind == "none":
        return
    items = _body_items(body.get("data"))
    if kind in BODY_CONTENT_TYPES and not _has_header(spec.headers, "content-type"):
        spec.headers["Content-Type"] = BODY_CONTENT_TYPES[kind]
    if kind == "raw-text":
        spec.content = render(_value(items[0])).encode() if items else b""
    elif kind == "json":
        spec.content = _json_body(render(_value(items[0])) if items else "")
    elif kind == "x-www-form-urlencoded":
        pairs = [(render(str(i.get("key") or "")), render(_value(i))) for i in items]
        spec.content = urlencode([(k, v) for k, v in pairs if k]).encode()
    elif kind == "form-data":
        for item in items:
            key = render(str(item.get("key") or ""))
            if not key:
                continue
            if item.get("type") == "file":
                spec.form_files.extend((key, f) for f in _files_at(item.get("file"), resolve))
            else:
                spec.form_fields.append((key, render(_value(item))))
    else:  # binary
        found = _files_at(items[0].get("file"), resolve) if items else []
        if not found:
            raise HttpNodeError(
                "The binary body needs a file variable with a file in it",
                error_type="FileFetchError",
            )
        spec.binary_file = found[0]


def _body_items(raw: Any) -> list[Mapping[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        # Legacy form: the body is one text value.
        return [{"type": "text", "key": "", "value": raw}]
    if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
        raise HttpNodeError("'body.data' must be a list of items", error_type="RequestBodyError")
    return raw


def _value(item: Mapping[str, Any]) -> str:
    value = item.get("value")
    return "" if value is None else str(value)


def _json_body(text: str) -> bytes:
    """The rendered JSON, parsed (repairing what a template commonly breaks) and re-encoded."""
    if not text.strip():
        return b""
    try:
        parsed = json.loads(text)
    except ValueError:
        # json-repair mends what rendering breaks most often: quotes inside a substituted value,
        # trailing commas, unquoted keys, a missing closing bracket.
        parsed = json_repair.loads(text)
        if parsed == "" and text.strip() not in ('""', "''"):
            raise HttpNodeError(
                "The JSON body is not valid JSON", error_type="RequestBodyError"
            ) from None
    return json.dumps(parsed, ensure_ascii=False).encode()


def _files_at(selector: Any, resolve: Resolve) -> list[Mapping[str, Any]]:
    """File values at ``selector`` (a file or an array of files); none when it holds nothing."""
    if not isinstance(selector, (list, tuple)) or len(selector) < 2:
        raise HttpNodeError(f"Invalid file selector: {selector!r}", error_type="FileFetchError")
    value = resolve([str(part) for part in selector])
    if value is MISSING or value is None:
        return []
    files = value if isinstance(value, list) else [value]
    for file in files:
        if not is_file(file):
            raise HttpNodeError(
                f"Variable {list(selector)} is not a file", error_type="FileFetchError"
            )
    return files


# --- sending --------------------------------------------------------------------------------


def send(
    spec: HttpRequestSpec,
    *,
    max_text_bytes: int,
    max_binary_bytes: int,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Make the request; outputs ``{status_code, body, headers, files}`` whatever the status.

    Each outbound call has the total deadline ``OUTBOUND_DEADLINE_SECONDS`` and ends with
    ``StopRequested`` within a second of ``should_stop`` saying so."""
    timeout = httpx.Timeout(
        connect=spec.timeout.connect,
        read=spec.timeout.read,
        write=spec.timeout.write,
        pool=spec.timeout.connect,
    )
    headers = dict(spec.headers)
    content = spec.content
    if spec.body_type == "form-data":
        content, content_type = _multipart(spec, timeout, max_binary_bytes, should_stop)
        # The boundary must match the body, so an author's bare multipart type is replaced.
        if "boundary=" not in _header(headers, "content-type"):
            _set_header(headers, "Content-Type", content_type)
    elif spec.body_type == "binary" and spec.binary_file is not None:
        content = _download(spec.binary_file, timeout, max_binary_bytes, should_stop)[1]
    try:
        response = outbound.fetch(
            spec.method,
            url_with_params(spec.url, spec.params),
            headers=headers,
            content=content,
            timeout=timeout,
            max_bytes=max(max_text_bytes, max_binary_bytes),
            verify=spec.verify,
            should_stop=should_stop,
        )
    except outbound.OutboundTooLarge as exc:
        raise HttpNodeError(str(exc), error_type="ResponseSizeError") from None
    except outbound.OutboundRefused as exc:
        raise HttpNodeError(str(exc), error_type="RequestRefusedError") from None
    except outbound.OutboundError as exc:
        raise HttpNodeError(str(exc)) from None
    return response_outputs(
        response, max_text_bytes=max_text_bytes, max_binary_bytes=max_binary_bytes
    )


def url_with_params(url: str, params: Sequence[tuple[str, str]]) -> str:
    """``params`` appended to the query the URL already has (httpx would replace it)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(list(params))) if q)
    return urlunsplit(parts._replace(query=query))


def is_failure(status_code: int, data: Mapping[str, Any]) -> bool:
    """A non-2xx answer fails the node only when the node handles failures (dsl.md §4.8)."""
    if 200 <= status_code < 300:
        return False
    retry = data.get("retry_config")
    retry_enabled = isinstance(retry, Mapping) and bool(retry.get("retry_enabled"))
    return data.get("error_strategy") in ERROR_STRATEGIES or retry_enabled


def check_status(outputs: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    """Raise :class:`HttpResponseCodeError` when :func:`is_failure` says the answer is a failure."""
    status = int(outputs["status_code"])
    if is_failure(status, data):
        raise HttpResponseCodeError(status, outputs)


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def _multipart(
    spec: HttpRequestSpec,
    timeout: httpx.Timeout,
    max_bytes: int,
    should_stop: Callable[[], bool] | None,
) -> tuple[bytes, str]:
    fields: list[tuple[str, Any]] = list(spec.form_fields)
    for key, file in spec.form_files:
        fields.append((key, _download(file, timeout, max_bytes, should_stop)))
    return encode_multipart_formdata(fields)


def _download(
    file: Mapping[str, Any],
    timeout: httpx.Timeout,
    max_bytes: int,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[str, bytes, str]:
    """``(name, content, mime type)`` of a file value, fetched through the outbound rules."""
    url = file_attribute(dict(file), "url")
    if file.get("transfer_method") != "remote_url" or not url:
        raise HttpNodeError(
            f"Cannot read the file {file_attribute(dict(file), 'name') or ''!r}: "
            "only files given by URL can be sent",
            error_type="FileFetchError",
        )
    try:
        response = outbound.fetch(
            "GET", str(url), timeout=timeout, max_bytes=max_bytes, should_stop=should_stop
        )
    except outbound.OutboundError as exc:
        raise HttpNodeError(f"Cannot fetch the file: {exc}", error_type="FileFetchError") from None
    if not 200 <= response.status_code < 300:
        raise HttpNodeError(
            f"Cannot fetch the file: the server answered {response.status_code}",
            error_type="FileFetchError",
        )
    name = str(file_attribute(dict(file), "name") or "") or _url_filename(str(url)) or "file"
    mime = str(file.get("mime_type") or "") or _mime(response.headers) or _guess_mime(name)
    return name, response.content, mime


def response_outputs(
    response: outbound.OutboundResponse, *, max_text_bytes: int, max_binary_bytes: int
) -> dict[str, Any]:
    headers = dict(response.headers)
    size = len(response.content)
    if _is_file_response(response.headers, response.content):
        if size > max_binary_bytes:
            raise HttpNodeError(
                f"The file in the response is larger than {max_binary_bytes} bytes",
                error_type="ResponseSizeError",
            )
        files = [_file_value(response)] if size else []
        return {"status_code": response.status_code, "body": "", "headers": headers, "files": files}
    if size > max_text_bytes:
        raise HttpNodeError(
            f"The text response is larger than {max_text_bytes} bytes",
            error_type="ResponseSizeError",
        )
    return {
        "status_code": response.status_code,
        "body": response.text,
        "headers": headers,
        "files": [],
    }


def _mime(headers: httpx.Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_file_response(headers: httpx.Headers, content: bytes) -> bool:
    disposition = headers.get("content-disposition", "").lower()
    if "attachment" in disposition or "filename" in disposition:
        return True
    mime = _mime(headers)
    if not mime:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False
    if mime.startswith("text/") or mime in TEXT_MIME_TYPES:
        return False
    if mime.endswith(("+json", "+xml")):
        return False
    return mime.startswith(("image/", "audio/", "video/", "application/", "font/", "model/"))


def _disposition_filename(value: str) -> str:
    if not value:
        return ""
    message = Message()
    message["content-disposition"] = value
    name = message.get_filename() or ""
    return posixpath.basename(name.replace("\\", "/"))


def _url_filename(url: str) -> str:
    return posixpath.basename(unquote(urlsplit(url).path))


def _guess_mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _file_value(response: outbound.OutboundResponse) -> dict[str, Any]:
    """The response as a file value. There is no file storage yet, so the file is referred to by
    the URL that answered (``remote_url``)."""
    mime = _mime(response.headers) or "application/octet-stream"
    name = _disposition_filename(response.headers.get("content-disposition", ""))
    name = name or _url_filename(response.url)
    extension = posixpath.splitext(name)[1].lower()
    if not extension:
        extension = mimetypes.guess_extension(mime) or ""
        name = (name or "file") + extension
    return {
        "dify_model_identity": FILE_IDENTITY,
        "type": _file_type(mime, extension),
        "transfer_method": "remote_url",
        "url": response.url,
        "remote_url": response.url,
        "related_id": None,
        "name": name,
        "extension": extension,
        "mime_type": mime,
        "size": len(response.content),
    }


def _file_type(mime: str, extension: str) -> str:
    for prefix in ("image", "audio", "video"):
        if mime.startswith(prefix + "/"):
            return prefix
    return "document" if extension in DOCUMENT_EXTENSIONS else "custom"
