from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString

from config.admin_display import clipped
from oauth_device.models import DeviceGrant


@admin.register(DeviceGrant)
class DeviceGrantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Device logins, read-only. The device code exists only as a digest, which is never shown;
    the user code is masked."""

    list_display = (
        "masked_code",
        "status",
        "client_id",
        "device",
        "created_at",
        "created_ip",
        "account",
        "external_email",
    )
    list_filter = ("status", "client_id")
    search_fields = ("device_label", "created_ip", "account__email", "external_email")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "masked_code",
        "status",
        "decision",
        "client_id",
        "device_label",
        "created_ip",
        "created_user_agent",
        "created_at",
        "expires_at",
        "last_poll_at",
        "interval",
        "account",
        "external_email",
        "identity_provider",
        "decided_at",
        "decided_ip",
        "consumed_at",
        "token_id",
    )
    readonly_fields = fields

    @admin.display(description="device label", ordering="device_label")
    def device(self, obj: DeviceGrant) -> SafeString | str:
        return clipped(obj.device_label)

    @admin.display(description="user code")
    def masked_code(self, obj: DeviceGrant) -> str:
        return obj.masked_user_code

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
