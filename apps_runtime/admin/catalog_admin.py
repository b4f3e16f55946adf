"""Tags and workflow versions in the admin: versions are read-only; drafts have a publish action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from accounts.audit import Actor
from apps_runtime.admin.display import pretty_json
from apps_runtime.dsl import workflow_cannot_run
from apps_runtime.models import Tag, WorkflowVersion
from apps_runtime.services import PublishError, tag_save, tags_delete, workflow_publish_draft
from config.admin_log import logged_action


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "workspace", "app_count", "created_at")
    list_filter = ("workspace",)
    search_fields = ("name",)
    readonly_fields = ("id", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(app_total=Count("apps"))

    @admin.display(description="apps", ordering="app_total")
    def app_count(self, obj: Tag) -> int:
        return int(getattr(obj, "app_total", 0))

    # Writes go through the services, with the audit record they leave.
    def save_model(self, request: HttpRequest, obj: Tag, form: Any, change: bool) -> None:
        tag_save(obj, actor=Actor.admin(request.user))

    def delete_model(self, request: HttpRequest, obj: Tag) -> None:
        tags_delete([obj], actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        tags_delete(list(queryset), actor=Actor.admin(request.user))


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Versions are read-only; a draft is published by the action, never edited here."""

    list_display = ("app", "version_label", "state", "unsupported_short")
    list_filter = ("app__workspace", "app__mode")
    list_select_related = ("app",)
    search_fields = ("app__name", "version", "id")
    fields = (
        "id",
        "app",
        "version_label",
        "state",
        "created_at",
        "published_at",
        "unsupported",
        "graph_json",
        "features_json",
        "environment_variables_json",
        "conversation_variables_json",
        "extra_json",
    )
    readonly_fields = fields
    actions = ("publish_drafts",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("apps_runtime.change_app"))

    @admin.display(description="version", ordering="published_at")
    def version_label(self, obj: WorkflowVersion) -> str:
        return obj.label

    @admin.display(description="state")
    def state(self, obj: WorkflowVersion) -> str:
        if obj.is_draft:
            return "draft"
        if obj.app.published_workflow_id == obj.pk:
            return "published (used by runs)"
        return "published (older)"

    @admin.display(description="unsupported nodes")
    def unsupported_short(self, obj: WorkflowVersion) -> str:
        return self.unsupported(obj)

    @admin.display(description="node types the engine cannot run")
    def unsupported(self, obj: WorkflowVersion) -> str:
        return ", ".join(workflow_cannot_run(obj)) or "none"

    @admin.display(description="graph")
    def graph_json(self, obj: WorkflowVersion) -> SafeString:
        return pretty_json(obj.graph)

    @admin.display(description="features")
    def features_json(self, obj: WorkflowVersion) -> SafeString:
        return pretty_json(obj.features)

    @admin.display(description="environment variables")
    def environment_variables_json(self, obj: WorkflowVersion) -> SafeString:
        variables = [
            {**item, "value": "••••••"}
            if isinstance(item, dict) and item.get("value_type") == "secret" and item.get("value")
            else item
            for item in obj.environment_variables or []
        ]
        return pretty_json(variables)

    @admin.display(description="conversation variables")
    def conversation_variables_json(self, obj: WorkflowVersion) -> SafeString:
        return pretty_json(obj.conversation_variables)

    @admin.display(description="other workflow keys")
    def extra_json(self, obj: WorkflowVersion) -> SafeString:
        return pretty_json(obj.extra)

    @admin.action(description="Publish selected drafts", permissions=["publish"])
    @logged_action
    def publish_drafts(self, request: HttpRequest, queryset: QuerySet[WorkflowVersion]) -> None:
        for version in queryset.select_related("app"):
            try:
                published = workflow_publish_draft(draft=version, actor=Actor.admin(request.user))
            except PublishError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Published {version.app.name} as version {published.label}.",
                    messages.SUCCESS,
                )
