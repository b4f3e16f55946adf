from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.audit import Actor
from workspaces.models import Invitation, Membership, Workspace
from workspaces.services import (
    MEMBERSHIP_EDITABLE,
    WORKSPACE_EDITABLE,
    membership_delete,
    membership_save,
    workspace_save,
)


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ("account",)
    fields = ("account", "role", "current", "created_at")
    readonly_fields = ("created_at",)

    def formfield_for_choice_field(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if db_field.name == "role":
            # The roles the service accepts: "dataset operator" is Dify's, refused here.
            kwargs["choices"] = [
                (value, label)
                for value, label in Membership.Role.choices
                if value != Membership.Role.DATASET_OPERATOR
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "status", "created_at", "id")
    list_filter = ("status",)
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_at")
    inlines = (MembershipInline,)

    # Every write goes through workspaces.services, one audit record each.
    def save_model(self, request: HttpRequest, obj: Workspace, form: Any, change: bool) -> None:
        fields = WORKSPACE_EDITABLE if not change else form.changed_data
        changes = {name: form.cleaned_data[name] for name in fields if name in WORKSPACE_EDITABLE}
        workspace_save(obj, changes=changes, actor=Actor.admin(request.user))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        actor = Actor.admin(request.user)
        # The admin's history message reads these lists, which formset.save() would have set.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                membership_delete(deleted.instance, actor=actor)
                formset.deleted_objects.append(deleted.instance)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            membership = inline_form.instance
            membership.workspace = form.instance
            adding = membership._state.adding
            fields = MEMBERSHIP_EDITABLE if adding else inline_form.changed_data
            changes = {
                name: inline_form.cleaned_data[name]
                for name in fields
                if name in MEMBERSHIP_EDITABLE
            }
            membership_save(membership, changes=changes, actor=actor)
            if adding:
                formset.new_objects.append(membership)
            else:
                formset.changed_objects.append((membership, inline_form.changed_data))


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Invitations of pending accounts, to see who has not set a password yet.

    Read-only, and the token digest is never shown: links are handed out by the API only.
    """

    list_display = ("account", "workspace", "role", "invitation_status", "expires_at", "invited_by")
    list_filter = ("role", ("accepted_at", admin.EmptyFieldListFilter))
    search_fields = ("account__email", "workspace__name")
    fields = (
        "account",
        "workspace",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    )
    readonly_fields = fields

    @admin.display(description="status")
    def invitation_status(self, obj: Invitation) -> str:
        return obj.status

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
