"""The one JSON parser of the API: bounded in depth and time, never a 500.

The body is already capped in bytes (``MAX_REQUEST_BODY_BYTES``), so decoding it is linear and
short. What stays is nesting: Python's decoder recurses once per level and raises
``RecursionError`` near a thousand levels, which DRF does not catch. Here a body nested past
``MAX_JSON_DEPTH`` levels — by a little or by a lot — is the 400 envelope, like any malformed JSON.
A string (or key) with a NUL or an unpaired surrogate is the 422 envelope naming the field
(``config.api.text``): no route ever sees text it could not store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import DataAndFiles, JSONParser, MultiPartParser

from config.api.errors import ApiError
from config.api.text import bad_text_error, bad_text_loc, first_bad_field, is_bad_text


class JsonTooDeep(ApiError):
    """400: a JSON body nested past ``MAX_JSON_DEPTH`` (refused even where bad JSON is lenient)."""


def _too_deep() -> JsonTooDeep:
    return JsonTooDeep(
        400,
        f"the JSON body is nested deeper than {settings.MAX_JSON_DEPTH} levels",
        code="bad_request",
    )


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_loads_bounded(text: str | bytes) -> Any:
    """``json.loads`` with the API's rules: strict constants, bounded depth; ``ApiError`` 400."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, f"Invalid JSON payload: {exc}", code="bad_request") from None
    if json_depth_exceeds(value, settings.MAX_JSON_DEPTH):
        raise _too_deep()
    loc = bad_text_loc(value)
    if loc is not None:
        raise bad_text_error(loc)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ApiError(400, "the JSON body is not valid text", code="bad_request") from None
        return json_loads_bounded(text)


class CheckedMultiPartParser(MultiPartParser):
    """Multipart (the upload routes) with the same text rule for its fields and file names."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles[Any, Any]:
        parsed = super().parse(stream, media_type, parser_context)
        field = first_bad_field(parsed.data)
        if field is None:
            field = next(
                (
                    key
                    for key, uploads in parsed.files.lists()
                    for upload in uploads
                    if is_bad_text(getattr(upload, "name", "") or "")
                ),
                None,
            )
        if field is not None:
            raise bad_text_error([field], where="form")
        return parsed
