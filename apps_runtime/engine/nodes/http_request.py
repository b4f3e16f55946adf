"""``http-request`` (dsl.md §4.8) through :mod:`apps_runtime.engine.outbound` (SSRF-safe)."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import json_repair
from django.conf import settings

from apps_runtime.engine import outbound
from apps_runtime.engine.nodes import register
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.templates import render
from apps_runtime.engine.variables import (
    FILE_IDENTITY,
    MISSING,
    VariablePool,
    file_attribute,
    is_file,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/yaml",
    "application/x-yaml",
)


def parse_lines(text: str) -> list[tuple[str, str]]:
    """``key:value`` per line, split at the first colon, trimmed; no colon → empty value."""
    pairs: list[tuple[str, str]] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(":")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _seconds(value: Any, ceiling: int) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float(ceiling)
    return float(ceiling) if number <= 0 else min(number, float(ceiling))


def _looks_textual(content_type: str, disposition: str) -> bool:
    if "attachment" in disposition.lower():
        return False
    kind = content_type.split(";")[0].strip().lower()
    return not kind or kind.startswith(TEXT_TYPES) or kind.endswith(("+json", "+xml"))


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


@register("http-request")
class HttpRequestNode(Node):
    def _file_bytes(self, value: Any, timeout: httpx.Timeout) -> tuple[str, bytes, str]:
        if not is_file(value):
            raise NodeFailed("The body file variable is not a file", "InvalidFile")
        url = file_attribute(value, "url")
        if not url:
            raise NodeFailed("Only remote files can be sent in a request body", "InvalidFile")
        response = outbound.fetch(
            "GET", str(url), timeout=timeout, max_bytes=settings.HTTP_NODE_MAX_BINARY_BYTES
        )
        name = str(file_attribute(value, "name") or "file")
        mime = str(
            value.get("mime_type")
            or response.headers.get("content-type")
            or "application/octet-stream"
        )
        return name, response.content, mime

    def _body(
        self, pool: VariablePool, timeout: httpx.Timeout
    ) -> tuple[dict[str, Any], str | None]:
        """Keyword arguments for the request body and the Content-Type it implies."""
        body = self.data.get("body") or {}
        if not isinstance(body, dict):
            return {}, None
        kind = str(body.get("type") or "none")
        items = body.get("data")
        if isinstance(items, str):
            items = [{"type": "text", "key": "", "value": items}]
        items = [i for i in items or [] if isinstance(i, dict)]
        if kind == "none":
            return {}, None
        if kind == "raw-text":
            text = render(str(items[0].get("value") or ""), pool) if items else ""
            return {"content": text.encode()}, "text/plain"
        if kind == "json":
            text = render(str(items[0].get("value") or ""), pool) if items else ""
            if not text.strip():
                return {"content": b""}, "application/json"
            try:
                parsed = json.loads(text)
            except ValueError:
                # Rendered values often break JSON (a quote or newline inside a string, a trailing
                # comma); repair it the way users of the DSL expect before giving up.
                parsed = json_repair.loads(text)
                if parsed == "":
                    raise NodeFailed("The JSON body is not valid JSON", "InvalidHttpBody") from None
            return {"content": json.dumps(parsed, ensure_ascii=False).encode()}, "application/json"
        if kind == "x-www-form-urlencoded":
            pairs = [
                (render(str(i.get("key") or ""), pool), render(str(i.get("value") or ""), pool))
                for i in items
            ]
            return {"content": urlencode(pairs).encode()}, "application/x-www-form-urlencoded"
        if kind == "form-data":
            fields: dict[str, list[str]] = {}
            files: list[tuple[str, tuple[str, bytes, str]]] = []
            for item in items:
                key = render(str(item.get("key") or ""), pool)
                if item.get("type") == "file":
                    value = pool.get(item.get("file") or [])
                    for single in value if isinstance(value, list) else [value]:
                        files.append((key, self._file_bytes(single, timeout)))
                else:
                    fields.setdefault(key, []).append(render(str(item.get("value") or ""), pool))
            if files:
                return {"data": fields, "files": files}, None
            # httpx builds multipart only around files; text-only form-data is encoded here.
            boundary = secrets.token_hex(16)
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(k)}"\r\n\r\n{v}\r\n'
                for k, values in fields.items()
                for v in values
            ]
            payload = ("".join(parts) + f"--{boundary}--\r\n").encode()
            return {"content": payload}, f"multipart/form-data; boundary={boundary}"
        if kind == "binary":
            value = pool.get(items[0].get("file") or []) if items else MISSING
            if isinstance(value, list):
                value = value[0] if value else MISSING
            _name, content, mime = self._file_bytes(value, timeout)
            return {"content": content}, mime
        raise NodeFailed(f"Unknown body type {kind!r}", "InvalidHttpBody")

    def run(self, ctx: RunContext) -> NodeResult:
        pool = ctx.pool
        method = str(self.data.get("method") or "get").upper()
        if method not in METHODS:
            raise NodeFailed(f"Invalid HTTP method {method}", "InvalidHttpMethod")
        url = render(str(self.data.get("url") or ""), pool).strip()
        if not url.startswith(("http://", "https://")):
            raise NodeFailed("URL must start with http:// or https://", "InvalidURL")
        headers_source = self.data.get("headers") or ""
        if isinstance(headers_source, dict):
            headers = [
                (render(str(k), pool), render(str(v), pool)) for k, v in headers_source.items()
            ]
        else:
            headers = parse_lines(render(str(headers_source), pool))
        params_source = self.data.get("params") or ""
        if isinstance(params_source, dict):
            params_source = "\n".join(f"{k}:{v}" for k, v in params_source.items())
        params: list[tuple[str, str | int | float | bool | None]] = [
            (render(k, pool), render(v, pool)) for k, v in parse_lines(str(params_source))
        ]
        credentials = self._authorization(pool)
        shown_headers = dict(headers) | {name: "******" for name, _ in credentials}
        headers.extend(credentials)
        limits = self.data.get("timeout") or {}
        limits = limits if isinstance(limits, dict) else {}
        connect = _seconds(limits.get("connect"), settings.HTTP_NODE_MAX_CONNECT_TIMEOUT)
        read = _seconds(limits.get("read"), settings.HTTP_NODE_MAX_READ_TIMEOUT)
        write = _seconds(limits.get("write"), settings.HTTP_NODE_MAX_WRITE_TIMEOUT)
        timeout = httpx.Timeout(connect=connect, read=read, write=write, pool=connect)
        body, content_type = self._body(pool, timeout)
        if content_type and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", content_type))
        ssl_verify = self.data.get("ssl_verify")
        inputs = {"method": method, "url": url, "headers": shown_headers, "params": params}
        try:
            response = outbound.fetch(
                method,
                url,
                headers=headers,
                params=params or None,
                timeout=timeout,
                max_bytes=settings.HTTP_NODE_MAX_BINARY_BYTES,
                verify=True if ssl_verify is None else bool(ssl_verify),
                **body,
            )
        except outbound.OutboundError as exc:
            raise NodeFailed(str(exc), type(exc).__name__) from None
        content_type = response.headers.get("content-type", "")
        disposition = response.headers.get("content-disposition", "")
        files: list[dict[str, Any]] = []
        if _looks_textual(content_type, disposition):
            if len(response.content) > settings.HTTP_NODE_MAX_TEXT_BYTES:
                raise NodeFailed(
                    f"Text response is larger than {settings.HTTP_NODE_MAX_TEXT_BYTES} bytes",
                    "ResponseSizeExceeded",
                )
            text = response.text
        else:
            text = ""
            files.append(self._response_file(response, content_type, disposition))
        outputs = {
            "status_code": response.status_code,
            "body": text,
            "headers": dict(response.headers.items()),
            "files": files,
        }
        if not 200 <= response.status_code < 300 and (self.error_strategy or self.retry_enabled):
            raise NodeFailed(
                f"Request failed with status code {response.status_code}", "HTTPResponseCodeError"
            )
        return NodeResult(
            inputs=inputs,
            process_data={"request": f"{method} {url}", "status_code": response.status_code},
            outputs=outputs,
        )

    def _authorization(self, pool: VariablePool) -> list[tuple[str, str]]:
        auth = self.data.get("authorization") or {}
        if not isinstance(auth, dict) or auth.get("type") != "api-key":
            return []
        config = auth.get("config") or {}
        key = render(str(config.get("api_key") or ""), pool)
        if not key:
            raise NodeFailed("The API key for the request is empty", "AuthorizationConfigError")
        header = str(config.get("header") or "").strip() or "Authorization"
        kind = config.get("type") or "bearer"
        if kind == "bearer":
            return [(header, f"Bearer {key}")]
        if kind == "basic":
            encoded = base64.b64encode(key.encode()).decode() if ":" in key else key
            return [(header, f"Basic {encoded}")]
        return [(header, key)]

    @staticmethod
    def _response_file(
        response: outbound.OutboundResponse, content_type: str, disposition: str
    ) -> dict[str, Any]:
        name = ""
        for part in disposition.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "filename":
                name = value.strip().strip('"')
        if not name:
            name = response.url.rstrip("/").rsplit("/", 1)[-1] or "file"
        mime = content_type.split(";")[0].strip() or "application/octet-stream"
        kind = mime.split("/")[0]
        return {
            "dify_model_identity": FILE_IDENTITY,
            "type": kind if kind in ("image", "audio", "video") else "document",
            "transfer_method": "remote_url",
            "url": response.url,
            "name": name,
            "mime_type": mime,
            "size": len(response.content),
            "extension": ("." + name.rsplit(".", 1)[1]) if "." in name else "",
            "related_id": None,
        }
