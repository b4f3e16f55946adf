"""Small display helpers shared by the admins of every app."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

LIST_TEXT_CHARS = 28


def clipped(text: str, limit: int = LIST_TEXT_CHARS) -> SafeString | str:
    """Free text in a change-list column, cut to ``limit`` characters (the whole text on hover), so
    one long value cannot push the list past the screen."""
    if len(text) <= limit:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: limit - 1].rstrip())
