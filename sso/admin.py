"""The operator's identity providers in the admin: the secret is write-only and sealed at rest,
the issuer is read from the discovery document when the form is saved."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.audit import Actor
from accounts.models import IdentityProvider
from accounts.services import identity_provider_delete, identity_provider_save
from sso.oidc import SsoError, discover

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class IdentityProviderForm(forms.ModelForm):  # type: ignore[type-arg]
    """The secret is write-only: never shown back; left blank on edit, the stored one stays."""

    client_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="stored encrypted; leave blank to keep the current secret",
    )

    class Meta:
        model = IdentityProvider
        fields = (
            "name",
            "slug",
            "discovery_url",
            "client_id",
            "client_secret",
            "allowed_email_domains",
            "workspaces",
            "enabled",
        )

    def clean_allowed_email_domains(self) -> str:
        value: str = self.cleaned_data["allowed_email_domains"]
        domains = [d.strip().lower().lstrip("@") for d in value.replace(",", "\n").splitlines()]
        domains = [d for d in domains if d]
        bad = [d for d in domains if not DOMAIN_RE.fullmatch(d)]
        if bad:
            raise forms.ValidationError(f"not a domain: {', '.join(bad)}")
        if not domains:
            raise forms.ValidationError("name at least one email domain")
        return "\n".join(dict.fromkeys(domains))

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        url = cleaned.get("discovery_url")
        if url and not self.errors:
            probe = IdentityProvider(discovery_url=url, client_id=cleaned.get("client_id", ""))
            try:
                self.instance.issuer = discover(probe).issuer
            except SsoError as exc:
                raise forms.ValidationError({"discovery_url": exc.reason}) from None
        if not self.instance.pk and not cleaned.get("client_secret"):
            raise forms.ValidationError({"client_secret": "a new provider needs its secret"})
        return cleaned


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = IdentityProviderForm
    list_display = ("name", "slug", "issuer", "enabled", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "slug", "issuer")
    readonly_fields = ("issuer",)
    filter_horizontal = ("workspaces",)
    prepopulated_fields = {"slug": ("name",)}

    def save_model(
        self, request: HttpRequest, obj: IdentityProvider, form: Any, change: bool
    ) -> None:
        identity_provider_save(
            obj,
            client_secret=form.cleaned_data.get("client_secret") or None,
            actor=Actor.admin(request.user),
            created=not change,
        )

    def delete_model(self, request: HttpRequest, obj: IdentityProvider) -> None:
        identity_provider_delete(obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[IdentityProvider]) -> None:
        for provider in queryset:
            identity_provider_delete(provider, actor=Actor.admin(request.user))
