from django.contrib import admin

from workspaces.models import Membership, Workspace


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
