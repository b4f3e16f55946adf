"""Tool providers in the admin, per workspace. Credentials are write-only (the form never renders
them, the list shows only whether they are set); every save goes through ``tools.services``
(checks, sealing, audit). The tool calls of runs are listed read-only."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.audit import Actor
from apps_runtime.tools.models import ToolCallRecord, ToolProvider
from apps_runtime.tools.services import (
    ToolProviderInvalid,
    tool_provider_delete,
    tool_provider_prepare,
    tool_provider_save,
)

MASK = "••••••••"


class ToolProviderForm(forms.ModelForm):  # type: ignore[type-arg]
    server_url = forms.URLField(
        max_length=2048,
        required=False,
        assume_scheme="https",
        help_text="MCP: the server's URL. API: overrides the schema's first server URL.",
    )
    new_secret = forms.CharField(
        label="API key / token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="API providers. Write-only; leave empty to keep the stored one.",
    )
    new_headers = forms.CharField(
        label="Request headers (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='MCP providers: a JSON object, e.g. {"Authorization": "Bearer …"}. '
        "Write-only; leave empty to keep the stored headers.",
    )
    clear_secret = forms.BooleanField(
        label="Remove the stored credentials", required=False, initial=False
    )

    class Meta:
        model = ToolProvider
        fields = (
            "workspace",
            "kind",
            "name",
            "provider_id",
            "description",
            "schema",
            "server_url",
            "auth_type",
            "auth_key_name",
            "workflow_app",
        )

    def clean_new_headers(self) -> dict[str, str] | None:
        raw = (self.cleaned_data.get("new_headers") or "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError("Headers must be a JSON object.") from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise forms.ValidationError("Headers must be a JSON object of strings.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        provider = self.instance
        for key in self.Meta.fields:
            if key in data:
                setattr(provider, key, data[key])
        # The checks of the save service (schema, address) run here so the form shows them.
        try:
            tool_provider_prepare(provider, headers=data.get("new_headers"))
        except ToolProviderInvalid as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(ToolProvider)
class ToolProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ToolProviderForm
    list_display = ("name", "kind", "workspace", "tool_count", "credentials_status", "updated_at")
    list_filter = ("kind", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("name", "provider_id", "server_url", "workspace__name")
    readonly_fields = ("id", "credentials_status", "tool_names", "tools_refreshed_at")
    actions = ("refresh_tools",)

    @admin.display(description="tools")
    def tool_count(self, obj: ToolProvider) -> int:
        return len(obj.tools or [])

    @admin.display(description="tools offered")
    def tool_names(self, obj: ToolProvider) -> str:
        return ", ".join(str(t.get("name")) for t in obj.tools or []) or "none"

    @admin.display(description="credentials")
    def credentials_status(self, obj: ToolProvider) -> str:
        return f"set ({MASK})" if obj.credentials else "not set"

    def save_model(self, request: HttpRequest, obj: ToolProvider, form: Any, change: bool) -> None:
        tool_provider_save(
            obj,
            secret=form.cleaned_data.get("new_secret") or None,
            headers=form.cleaned_data.get("new_headers"),
            clear_secret=bool(form.cleaned_data.get("clear_secret")),
            actor=Actor.admin(request.user),
        )

    def delete_model(self, request: HttpRequest, obj: ToolProvider) -> None:
        tool_provider_delete(obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ToolProvider]) -> None:
        for provider in queryset:
            tool_provider_delete(provider, actor=Actor.admin(request.user))

    @admin.action(description="Refresh the tool list (schema or MCP server)")
    def refresh_tools(self, request: HttpRequest, queryset: QuerySet[ToolProvider]) -> None:
        for provider in queryset:
            try:
                tool_provider_save(provider, actor=Actor.admin(request.user))
            except ToolProviderInvalid as exc:
                self.message_user(request, f"{provider.name}: {exc}", messages.ERROR)
            else:
                count = len(provider.tools or [])
                self.message_user(request, f"{provider.name}: {count} tool(s)", messages.SUCCESS)


@admin.register(ToolCallRecord)
class ToolCallRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "provider", "tool", "status", "run", "elapsed_time")
    list_filter = ("status",)
    search_fields = ("provider", "tool", "run__id")
    readonly_fields = [f.name for f in ToolCallRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
