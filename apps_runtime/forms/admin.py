"""Human-input forms in the admin: read-only, tokens shown only as masked digest prefixes; the
action fails the paused runs behind waiting forms (their forms are cancelled with them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.audit import Actor
from apps_runtime.admin.display import pretty_json
from apps_runtime.forms import runflow
from apps_runtime.forms.models import HumanInputForm
from apps_runtime.forms.tokens import token_masked
from config.admin_log import logged_action


@admin.register(HumanInputForm)
class HumanInputFormAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "node_title",
        "app",
        "status",
        "run_link",
        "delivery",
        "expiration",
        "created_at",
    )
    list_filter = ("status", "app__workspace")
    list_select_related = ("app", "run")
    search_fields = ("node_id", "node_title", "app__name", "run__id", "id")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "app",
        "run_link",
        "node_id",
        "node_title",
        "status",
        "delivery",
        "email_recipients",
        "email_sent_at",
        "api_token",
        "page_token",
        "created_at",
        "expiration",
        "closed_at",
        "action_id",
        "submitted_by",
        "submitted_via",
        "values_json",
        "form_content",
        "inputs_json",
        "actions_json",
    )
    readonly_fields = fields
    actions = ("fail_paused_runs",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="run")
    def run_link(self, obj: HumanInputForm) -> SafeString:
        label = f"{obj.run_id} ({obj.run.status})"
        try:
            url = reverse("admin:apps_runtime_run_change", args=[obj.run_id])
        except NoReverseMatch:  # the run admin is not registered (a trimmed admin site)
            return format_html("{}", label)
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="delivery")
    def delivery(self, obj: HumanInputForm) -> str:
        return ", ".join(obj.delivery_methods) or "—"

    @admin.display(description="expires")
    def expiration(self, obj: HumanInputForm) -> Any:
        return obj.expiration_time()

    @admin.display(description="API token")
    def api_token(self, obj: HumanInputForm) -> str:
        return token_masked(obj.api_token_digest)

    @admin.display(description="page token")
    def page_token(self, obj: HumanInputForm) -> str:
        return token_masked(obj.page_token_digest)

    @admin.display(description="values")
    def values_json(self, obj: HumanInputForm) -> SafeString:
        return pretty_json(obj.values)

    @admin.display(description="inputs")
    def inputs_json(self, obj: HumanInputForm) -> SafeString:
        return pretty_json(obj.inputs)

    @admin.display(description="actions")
    def actions_json(self, obj: HumanInputForm) -> SafeString:
        return pretty_json(obj.actions)

    @admin.action(description="Fail the paused runs of the selected waiting forms")
    @logged_action
    def fail_paused_runs(self, request: HttpRequest, queryset: QuerySet[HumanInputForm]) -> None:
        run_ids = set(
            queryset.filter(status=HumanInputForm.Status.WAITING).values_list("run_id", flat=True)
        )
        failed = sum(
            1
            for run_id in run_ids
            if runflow.run_fail_paused(
                run_id, reason="failed from the admin", actor=Actor.admin(request.user)
            )
        )
        self.message_user(
            request,
            f"{failed} paused run(s) failed.",
            messages.SUCCESS if failed else messages.INFO,
        )
