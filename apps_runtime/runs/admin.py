"""Runs in the admin: read-only, with their node executions and message, filters, and two audited
actions through the services — "stop" (the run ends ``stopped`` at its next node or chunk) and
"fail" (a run stuck without a process, ended at once with its terminal events)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.safestring import SafeString

from accounts.audit import Actor
from apps_runtime.admin.display import pretty_json
from apps_runtime.runs.models import Conversation, Message, NodeExecution, Run
from apps_runtime.runs.services import run_fail, run_stop
from config.admin_log import logged_action

ADMIN_FAIL_MESSAGE = "failed by an administrator"


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NodeExecutionInline(_ReadOnly, admin.TabularInline):  # type: ignore[type-arg]
    model = NodeExecution
    extra = 0
    fields = ("index", "node_id", "node_type", "title", "status", "error", "elapsed_time")
    readonly_fields = fields
    ordering = ("index", "created_at")
    show_change_link = True


class MessageInline(_ReadOnly, admin.StackedInline):  # type: ignore[type-arg]
    model = Message
    extra = 0
    fields = ("query", "answer", "status", "prompt_tokens", "completion_tokens", "total_tokens")
    readonly_fields = fields


@admin.register(Run)
class RunAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "app", "mode", "status", "subject_email", "created_at", "total_tokens")
    list_filter = ("status", "mode", "workspace", "created_at")
    search_fields = ("id", "workflow_run_id", "subject_email", "app__name")
    date_hierarchy = "created_at"
    list_select_related = ("app",)
    inlines = (MessageInline, NodeExecutionInline)
    change_list_template = "admin/apps_runtime/run/change_list.html"

    # -- the run workers (issue 17): who answers, what each executes, the queue ----------------

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "workers/",
                self.admin_site.admin_view(self.workers_view),
                name="apps_runtime_run_workers",
            )
        ]
        return extra + super().get_urls()

    def workers_view(self, request: HttpRequest) -> HttpResponse:
        from apps_runtime.runs.workers import workers_report

        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Run workers",
            "report": workers_report(),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/apps_runtime/run/workers.html", context)

    fields = (
        "id",
        "workflow_run_id",
        "app",
        "workspace",
        "mode",
        "status",
        "subject_type",
        "subject_email",
        "subject_issuer",
        "conversation",
        "workflow_version",
        "query",
        "inputs_display",
        "outputs_display",
        "error",
        "error_code",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "stop_requested_at",
        "elapsed_time",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "total_steps",
    )
    readonly_fields = fields
    actions = ("stop_selected", "fail_selected")

    @admin.display(description="inputs")
    def inputs_display(self, obj: Run) -> SafeString:
        return pretty_json(obj.inputs)

    @admin.display(description="outputs")
    def outputs_display(self, obj: Run) -> SafeString:
        return pretty_json(obj.outputs)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # Rows are read-only; stopping or failing a run needs the model's change permission.
        return bool(request.user.has_perm("apps_runtime.change_run"))

    @admin.action(description="Stop selected runs", permissions=["operate"])
    @logged_action
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        active = [run for run in queryset if run.is_active]
        for run in active:
            run_stop(run=run, actor=Actor.admin(request.user))
        self.message_user(request, f"Stop requested for {len(active)} run(s).", messages.SUCCESS)

    @admin.action(description="Fail selected runs (stuck, no process)", permissions=["operate"])
    @logged_action
    def fail_selected(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        count = sum(
            run_fail(run, message=ADMIN_FAIL_MESSAGE, actor=Actor.admin(request.user))
            for run in queryset
            if run.is_active
        )
        self.message_user(request, f"Failed {count} run(s).", messages.SUCCESS)


@admin.register(NodeExecution)
class NodeExecutionAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "node_type", "status", "run", "created_at")
    list_filter = ("status", "node_type")
    search_fields = ("node_id", "run__id")
    fields = (
        "id",
        "run",
        "index",
        "node_id",
        "node_type",
        "title",
        "predecessor_node_id",
        "status",
        "error",
        "elapsed_time",
        "inputs_display",
        "process_data_display",
        "outputs_display",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description="inputs")
    def inputs_display(self, obj: NodeExecution) -> SafeString:
        return pretty_json(obj.inputs)

    @admin.display(description="process data")
    def process_data_display(self, obj: NodeExecution) -> SafeString:
        return pretty_json(obj.process_data)

    @admin.display(description="outputs")
    def outputs_display(self, obj: NodeExecution) -> SafeString:
        return pretty_json(obj.outputs)


@admin.register(Conversation)
class ConversationAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "app", "subject_email", "created_at", "updated_at")
    list_filter = ("app__workspace",)
    search_fields = ("id", "name", "subject_email")
    fields = (
        "id",
        "app",
        "subject_type",
        "subject_email",
        "subject_issuer",
        "name",
        "variables_json",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="conversation variables")
    def variables_json(self, obj: Conversation) -> SafeString:
        return pretty_json(obj.variables)


@admin.register(Message)
class MessageAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "app", "conversation", "status", "total_tokens", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("id", "query", "conversation__id")
    fields = (
        "id",
        "run",
        "app",
        "conversation",
        "query",
        "answer",
        "status",
        "error",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "latency",
        "created_at",
    )
    readonly_fields = fields
