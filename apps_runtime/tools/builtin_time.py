"""The builtin ``langgenius/time/time`` provider (no network): the current time in a timezone and
format, and converting a time between timezones. The clock is ``django.utils.timezone.now`` (the
project's one injectable clock)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from apps_runtime.tools.types import ToolError, ToolOutput, ToolSpec

PROVIDER_ID = "langgenius/time/time"
PROVIDER_NAME = "time"
DEFAULT_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
INPUT_FORMAT = "%Y-%m-%d %H:%M:%S"

TOOLS: dict[str, ToolSpec] = {
    "current_time": ToolSpec(
        name="current_time",
        label="Current Time",
        description="The current date and time in a timezone, in a strftime format.",
        provider=PROVIDER_ID,
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA timezone, e.g. UTC or Europe/Paris (default UTC)",
                },
                "format": {
                    "type": "string",
                    "description": f"strftime format (default {DEFAULT_FORMAT})",
                },
            },
        },
    ),
    "timezone_conversion": ToolSpec(
        name="timezone_conversion",
        label="Timezone Conversion",
        description="Convert a time (YYYY-MM-DD HH:MM:SS) from one timezone to another.",
        provider=PROVIDER_ID,
        parameters={
            "type": "object",
            "properties": {
                "current_time": {"type": "string", "description": "YYYY-MM-DD HH:MM:SS"},
                "current_timezone": {"type": "string", "description": "IANA timezone of it"},
                "target_timezone": {"type": "string", "description": "IANA timezone wanted"},
            },
            "required": ["current_time", "current_timezone", "target_timezone"],
        },
    ),
}


def _zone(name: Any) -> ZoneInfo:
    text = str(name or "UTC").strip() or "UTC"
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(f"unknown timezone {text!r}") from None


def _format(moment: datetime, pattern: Any) -> str:
    text = str(pattern or DEFAULT_FORMAT)
    try:
        return moment.strftime(text)
    except ValueError as exc:
        raise ToolError(f"invalid time format {text!r}: {exc}") from None


def call(tool: str, arguments: dict[str, Any]) -> ToolOutput:
    if tool == "current_time":
        moment = timezone.now().astimezone(_zone(arguments.get("timezone")))
        return ToolOutput(text=_format(moment, arguments.get("format")))
    if tool == "timezone_conversion":
        source = _zone(arguments.get("current_timezone"))
        target = _zone(arguments.get("target_timezone"))
        try:
            local = datetime.strptime(str(arguments.get("current_time") or ""), INPUT_FORMAT)
        except ValueError:
            raise ToolError("current_time must look like YYYY-MM-DD HH:MM:SS") from None
        converted = local.replace(tzinfo=source).astimezone(target)
        return ToolOutput(text=converted.strftime(INPUT_FORMAT))
    raise ToolError(f"the time provider has no tool {tool!r}")
