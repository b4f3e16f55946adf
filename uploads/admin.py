from django.contrib import admin
from django.http import HttpRequest

from uploads.models import UploadFile


@admin.register(UploadFile)
class UploadFileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Uploaded run-input files: who uploaded what for which app, and whether a run used it."""

    list_display = ("name", "size", "mime_type", "app", "account", "created_at", "used_at")
    list_filter = (("used_at", admin.EmptyFieldListFilter), "mime_type")
    search_fields = ("name", "account__email", "app__name", "id")
    fields = (
        "id",
        "name",
        "size",
        "extension",
        "mime_type",
        "app",
        "workspace",
        "account",
        "storage_key",
        "created_at",
        "used_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
