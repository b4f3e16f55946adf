from django.contrib import admin
from django.http import HttpRequest

from workspaces.models import Invitation, Membership, Workspace


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ("account",)
    fields = ("account", "role", "current", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "status", "created_at", "id")
    list_filter = ("status",)
    search_fields = ("name", "id")
    readonly_fields = ("id", "created_at")
    inlines = (MembershipInline,)


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
