"""DSL imports (API, command and admin upload): who imported what, and how it ended."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps_runtime.models import AppImport


@admin.register(AppImport)
class AppImportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # Read-only: an import is decided by the service; the kept YAML of a pending import is never
    # shown (it may hold secret values).
    list_display = ("created_at", "status", "workspace", "account", "app", "imported_dsl_version")
    list_filter = ("status", "source")
    search_fields = ("id", "account__email", "workspace__name", "app__name", "yaml_url")
    fields = (
        "id",
        "status",
        "source",
        "yaml_url",
        "workspace",
        "account",
        "app",
        "app_mode",
        "imported_dsl_version",
        "current_dsl_version",
        "error",
        "warnings",
        "options",
        "created_at",
        "expires_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
