"""Helpers shared by the catalog admin pages: JSON display and DSL downloads."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString
from django.utils.text import slugify

from apps_runtime.dsl import app_export_dsl
from apps_runtime.models import App

YAML_CONTENT_TYPE = "application/x-yaml; charset=utf-8"


def pretty_json(value: Any) -> SafeString:
    return format_html(
        '<pre style="max-height:40em;overflow:auto">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False),
    )


def dsl_filename(app: App) -> str:
    return f"{slugify(app.name, allow_unicode=True) or app.id}.yml"


def attachment(filename: str) -> str:
    return content_disposition_header(True, filename) or "attachment"


def yaml_download(app: App) -> HttpResponse:
    response = HttpResponse(app_export_dsl(app), content_type=YAML_CONTENT_TYPE)
    response["Content-Disposition"] = attachment(dsl_filename(app))
    return response
