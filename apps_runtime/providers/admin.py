"""Provider configurations in the admin: editable per workspace. The API key is write-only: the
form never renders it (not even sealed), the list shows only whether one is set, and every save
goes through ``providers.services`` (sealing + audit)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.validators import URLValidator
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.audit import Actor
from apps_runtime.providers.models import ProviderConfig, provider_name
from apps_runtime.providers.services import provider_config_delete, provider_config_save

MASK = "••••••••"


class ProviderConfigForm(forms.ModelForm):  # type: ignore[type-arg]
    base_url = forms.URLField(
        max_length=2048,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="OpenAI-compatible API root, e.g. https://api.openai.com/v1",
    )
    new_api_key = forms.CharField(
        label="New API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the stored key.",
    )
    model_names = forms.CharField(
        label="Models",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "gpt-4o-mini\ngpt-4o"}),
        help_text="The models this provider serves, one per line (informational; may be empty).",
    )
    clear_api_key = forms.BooleanField(
        label="Remove the stored API key", required=False, initial=False
    )

    class Meta:
        model = ProviderConfig
        fields = ("workspace", "provider", "base_url", "model_names", "is_default")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["model_names"] = "\n".join(self.instance.model_names or [])
        if self.instance.pk and self.instance.api_key:
            self.fields[
                "new_api_key"
            ].help_text = (
                f"A key is stored ({MASK}). Leave empty to keep it; type a new one to replace it."
            )

    def clean_provider(self) -> str:
        # Stored as the last DSL segment; normalising here lets the uniqueness check see it.
        name = provider_name(self.cleaned_data.get("provider") or "")
        if not name:
            raise forms.ValidationError("A provider name, e.g. openai_api_compatible.")
        return name

    def clean_model_names(self) -> list[str]:
        text = self.cleaned_data.get("model_names") or ""
        names = [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]
        too_long = [name for name in names if len(name) > 255]
        if too_long:
            raise forms.ValidationError(f"A model name is at most 255 characters: {too_long[0]}")
        return list(dict.fromkeys(names))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_api_key") and data.get("clear_api_key"):
            raise forms.ValidationError("Either type a new API key or remove the stored one.")
        return data


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ProviderConfigForm
    list_display = (
        "provider",
        "workspace",
        "base_url",
        "is_default",
        "api_key_status",
        "updated_at",
    )
    list_filter = ("is_default", "workspace")
    list_select_related = ("workspace",)
    search_fields = ("provider", "base_url", "workspace__name")
    readonly_fields = ("id", "api_key_status", "created_at", "updated_at")
    fieldsets = (
        (
            None,
            {"fields": ("id", "workspace", "provider", "base_url", "model_names", "is_default")},
        ),
        ("Credentials", {"fields": ("api_key_status", "new_api_key", "clear_api_key")}),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Stored API key")
    def api_key_status(self, obj: ProviderConfig) -> str:
        return f"set ({MASK})" if obj.api_key else "not set"

    def save_model(
        self, request: HttpRequest, obj: ProviderConfig, form: Any, change: bool
    ) -> None:
        provider_config_save(
            obj,
            api_key=form.cleaned_data.get("new_api_key") or None,
            clear_api_key=bool(form.cleaned_data.get("clear_api_key")),
            actor=_actor(request),
        )

    def delete_model(self, request: HttpRequest, obj: ProviderConfig) -> None:
        provider_config_delete(obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        for config in queryset:
            provider_config_delete(config, actor=_actor(request))


def _actor(request: HttpRequest) -> Actor:
    return Actor.admin(request.user)
