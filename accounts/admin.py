from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.audit import Actor
from accounts.forms import AccountChangeForm, AccountCreationForm
from accounts.models import AccessToken, Account, AuditEvent
from accounts.services import (
    ACCOUNT_EDITABLE,
    access_token_revoke,
    account_create,
    account_set_status,
    account_update,
)
from config.admin_display import clipped


@admin.register(Account)
class AccountAdmin(UserAdmin):  # type: ignore[type-arg]
    form = AccountChangeForm
    add_form = AccountCreationForm
    ordering = ("email",)
    list_display = ("email", "name", "status", "is_staff", "created_at")
    list_filter = ("status", "is_staff", "is_superuser")
    search_fields = ("email", "name")
    readonly_fields = ("created_at", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "status")}),
        ("Permissions", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("created_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),
    )
    actions = ("disable_accounts", "enable_accounts")

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        # Every write goes through the account services, as the actions do.
        actor = Actor.admin(request.user)
        if not change:
            created = account_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data.get("password1") or None,
                name=form.cleaned_data.get("name", ""),
                actor=actor,
            )
            # The admin goes on with ``obj`` (redirect, history): make it the saved row.
            obj.__dict__.update(created.__dict__)
            return
        changed = set(form.changed_data)
        if "status" in changed:
            account_set_status(obj, form.cleaned_data["status"], actor=actor)
        edits = {name: form.cleaned_data[name] for name in ACCOUNT_EDITABLE if name in changed}
        if edits:
            account_update(obj, changes=edits, actor=actor)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Groups and permissions were written by account_update in save_model.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Disable selected accounts (their tokens are revoked for good)")
    def disable_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            account_set_status(account, Account.Status.DISABLED, actor=Actor.admin(request.user))
        self.message_user(request, f"Disabled {queryset.count()} account(s).", messages.SUCCESS)

    @admin.action(description="Enable selected accounts")
    def enable_accounts(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            account_set_status(account, Account.Status.ACTIVE, actor=Actor.admin(request.user))
        self.message_user(request, f"Enabled {queryset.count()} account(s).", messages.SUCCESS)


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "live"), ("expired", "expired"), ("revoked", "revoked")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AccessToken]
    ) -> QuerySet[AccessToken]:
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Sessions, masked: the secret is never stored, and its digest is never shown."""

    list_display = (
        "masked",
        "subject_email",
        "client_id",
        "device",
        "status_label",
        "last_used_at",
        "expires_at",
    )
    list_filter = (TokenStatusFilter, "client_id", "subject_type")
    search_fields = ("subject_email", "device_label")
    fields = (
        "id",
        "masked",
        "subject_type",
        "subject_email",
        "subject_issuer",
        "account",
        "client_id",
        "device_label",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "status_label",
    )
    readonly_fields = fields
    actions = ("revoke_selected",)

    @admin.display(description="token")
    def masked(self, obj: AccessToken) -> str:
        return f"{obj.prefix}••••••••"

    @admin.display(description="device label", ordering="device_label")
    def device(self, obj: AccessToken) -> SafeString | str:
        return clipped(obj.device_label)

    @admin.display(description="status")
    def status_label(self, obj: AccessToken) -> str:
        return obj.status

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Keep the revoke action available although rows are read-only.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # Rows are read-only in the admin, so revoking needs the model's change permission.
        return bool(request.user.has_perm("accounts.change_accesstoken"))

    @admin.action(description="Revoke selected sessions", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        count = sum(
            access_token_revoke(token, actor=Actor.admin(request.user), reason="revoked in admin")
            for token in queryset
        )
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The audit trail, read-only: who (``actor_type``: account, external_sso, admin, operator,
    system; and the email or command) did what, when."""

    list_display = ("created_at", "action", "actor_type", "actor", "account", "ip")
    list_filter = ("actor_type", "action")
    list_select_related = ("account",)
    date_hierarchy = "created_at"
    search_fields = ("actor_email", "action")
    readonly_fields = (
        "created_at",
        "action",
        "actor_type",
        "actor_email",
        "account",
        "token_id",
        "ip",
        "details",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="actor", ordering="actor_email")
    def actor(self, obj: AuditEvent) -> str:
        return obj.actor_email or "—"
