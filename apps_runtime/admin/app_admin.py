"""Apps in the admin: filters, service-API and access-mode actions, DSL import form and export."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.audit import Actor
from accounts.models import Account
from apps_runtime.admin.display import attachment, dsl_filename, pretty_json, yaml_download
from apps_runtime.dsl import DslError, app_export_dsl, workflow_cannot_run
from apps_runtime.models import App, AppImport, AppModelConfig, Tag
from apps_runtime.services import (
    APP_EDITABLE,
    app_set_access_mode,
    app_set_enable_api,
    app_update,
)
from apps_runtime.transfer.imports import Importer, ImportOptions, dsl_import
from config.admin_log import logged_action
from workspaces.models import Workspace


class WorkspaceChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        # Names need not be unique; the id tells same-named workspaces apart.
        return f"{obj.name} ({obj.id})"


class DslImportForm(forms.Form):
    file = forms.FileField(label="DSL file", help_text="A Dify app export (.yml / .yaml).")
    workspace = WorkspaceChoiceField(queryset=Workspace.objects.all())
    name = forms.CharField(
        required=False, max_length=255, help_text="Optional: overrides app.name from the file."
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > settings.MAX_DSL_BYTES:
            raise ValidationError(f"The file is larger than {settings.MAX_DSL_BYTES} bytes.")
        return bytes(upload.read())


class AppAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = App
        # Exactly what app_update may change, which save_model hands it.
        fields = APP_EDITABLE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tags = self.fields.get("tags")
        if isinstance(tags, forms.ModelMultipleChoiceField):
            # Only tags of the app's own workspace can be chosen (others fail validation).
            tags.queryset = Tag.objects.filter(workspace_id=self.instance.workspace_id)


class TagNameFilter(admin.SimpleListFilter):
    """Tags by name: each workspace has its own tags, and a filter entry per tag row would list
    "workflow" once per workspace."""

    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = Tag.objects.order_by("name").values_list("name", flat=True).distinct()
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet[App]) -> QuerySet[App]:
        if self.value():
            return queryset.filter(tags__name=self.value()).distinct()
        return queryset


@admin.register(App)
class AppAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = AppAdminForm
    change_list_template = "admin/apps_runtime/app/change_list.html"
    change_form_template = "admin/apps_runtime/app/change_form.html"
    list_display = (
        "name",
        "mode",
        "workspace",
        "service_api",
        "status",
        "access_mode",
        "tag_names",
        "export_link",
    )
    list_filter = ("workspace", "mode", "status", "enable_api", "access_mode", TagNameFilter)
    list_select_related = ("workspace",)
    search_fields = ("name", "id")
    filter_horizontal = ("tags",)
    readonly_fields = (
        "id",
        "workspace",
        "mode",
        "published_workflow",
        "workflow_versions",
        "unsupported_node_types",
        "model_config_json",
        "dsl_extra_json",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("id", "workspace", "name", "mode", "description", "author")}),
        ("Icon", {"fields": ("icon", "icon_type", "icon_background")}),
        ("Access", {"fields": ("enable_api", "status", "access_mode", "tags")}),
        (
            "Definition",
            {
                "fields": (
                    "published_workflow",
                    "workflow_versions",
                    "unsupported_node_types",
                    "model_config_json",
                    "dsl_extra_json",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    raw_id_fields = ("author",)
    actions = (
        "enable_service_api",
        "disable_service_api",
        "set_access_public",
        "set_access_sso_verified",
        "set_access_private_all",
        "set_access_private",
        "export_dsl",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[App]:
        return super().get_queryset(request).prefetch_related("tags")

    def save_model(self, request: HttpRequest, obj: App, form: Any, change: bool) -> None:
        # The same service as the actions (and the API): one transaction, one audit record.
        # Apps are only ever added by the DSL import, so ``change`` is always true here.
        app_update(
            app=obj,
            changes={name: form.cleaned_data[name] for name in form.changed_data},
            actor=Actor.admin(request.user),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Tags were written by app_update in save_model; the form must not write them again.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # -- columns and read-only fields -----------------------------------------------------------

    @admin.display(description="API", boolean=True, ordering="enable_api")
    def service_api(self, obj: App) -> bool:
        return obj.enable_api

    @admin.display(description="tags")
    def tag_names(self, obj: App) -> str:
        return ", ".join(tag.name for tag in obj.tags.all())

    @admin.display(description="DSL")
    def export_link(self, obj: App) -> SafeString:
        url = reverse("admin:apps_runtime_app_export_dsl", args=[obj.pk])
        return format_html('<a href="{}">export</a>', url)

    @admin.display(description="workflow versions")
    def workflow_versions(self, obj: App) -> SafeString | str:
        versions = obj.workflow_versions.order_by("-created_at")
        if not versions:
            return "—"
        return format_html_join(
            "\n",
            '<div><a href="{}">{}</a>{}</div>',
            (
                (
                    reverse("admin:apps_runtime_workflowversion_change", args=[version.pk]),
                    version.label,
                    " (published, used by runs)" if version.pk == obj.published_workflow_id else "",
                )
                for version in versions
            ),
        )

    @admin.display(description="node types the engine cannot run")
    def unsupported_node_types(self, obj: App) -> str:
        version = obj.published_workflow
        if version is None:
            return "—"
        return ", ".join(workflow_cannot_run(version)) or "none"

    @admin.display(description="model_config")
    def model_config_json(self, obj: App) -> SafeString | str:
        config = AppModelConfig.objects.filter(app=obj).first()
        return pretty_json(config.config) if config is not None else "—"

    @admin.display(description="other DSL keys")
    def dsl_extra_json(self, obj: App) -> SafeString:
        return pretty_json(obj.dsl_extra)

    # -- actions --------------------------------------------------------------------------------

    @admin.action(description="Turn the service API on", permissions=["change"])
    @logged_action
    def enable_service_api(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._toggle(request, queryset, enabled=True)

    @admin.action(description="Turn the service API off", permissions=["change"])
    @logged_action
    def disable_service_api(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._toggle(request, queryset, enabled=False)

    def _toggle(self, request: HttpRequest, queryset: QuerySet[App], *, enabled: bool) -> None:
        changed = sum(
            app_set_enable_api(app=app, enabled=enabled, actor=Actor.admin(request.user))
            for app in queryset
        )
        state = "on" if enabled else "off"
        self.message_user(request, f"Service API turned {state} for {changed} app(s).")

    @admin.action(description="Set access mode: public", permissions=["change"])
    @logged_action
    def set_access_public(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._access(request, queryset, App.AccessMode.PUBLIC)

    @admin.action(description="Set access mode: SSO verified", permissions=["change"])
    @logged_action
    def set_access_sso_verified(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._access(request, queryset, App.AccessMode.SSO_VERIFIED)

    @admin.action(description="Set access mode: private (all members)", permissions=["change"])
    @logged_action
    def set_access_private_all(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._access(request, queryset, App.AccessMode.PRIVATE_ALL)

    @admin.action(description="Set access mode: private", permissions=["change"])
    @logged_action
    def set_access_private(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        self._access(request, queryset, App.AccessMode.PRIVATE)

    def _access(self, request: HttpRequest, queryset: QuerySet[App], mode: str) -> None:
        changed = sum(
            app_set_access_mode(app=app, access_mode=mode, actor=Actor.admin(request.user))
            for app in queryset
        )
        self.message_user(request, f"Access mode set to {mode} for {changed} app(s).")

    @admin.action(description="Export DSL (YAML; a zip for several apps)", permissions=["view"])
    def export_dsl(self, request: HttpRequest, queryset: QuerySet[App]) -> HttpResponse | None:
        apps = list(queryset)
        try:
            if len(apps) == 1:
                return yaml_download(apps[0])
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for app in apps:
                    archive.writestr(f"{app.id}-{dsl_filename(app)}", app_export_dsl(app))
        except DslError as exc:
            self.message_user(request, f"Export failed: {exc.message}", messages.ERROR)
            return None
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = attachment("apps-dsl.zip")
        return response

    # -- extra views: import form and single-app export -----------------------------------------

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "import-dsl/",
                self.admin_site.admin_view(self.import_dsl_view),
                name="apps_runtime_app_import_dsl",
            ),
            path(
                "<path:object_id>/export-dsl/",
                self.admin_site.admin_view(self.export_dsl_view),
                name="apps_runtime_app_export_dsl",
            ),
        ]
        return extra + super().get_urls()

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Apps come from DSL files; "Add app" leads to the import form.
        return HttpResponseRedirect(reverse("admin:apps_runtime_app_import_dsl"))

    def import_dsl_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DslImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            # The same service as the API's import and ``manage.py import_dsl``.
            record = dsl_import(
                workspace=form.cleaned_data["workspace"],
                yaml_text=form.cleaned_data["file"],
                importer=Importer(
                    actor=Actor.admin(request.user),
                    account=request.user if isinstance(request.user, Account) else None,
                ),
                options=ImportOptions(name=form.cleaned_data["name"] or None),
            )
            if record.status == AppImport.Status.FAILED:
                form.add_error("file", record.error)
            elif record.status == AppImport.Status.PENDING:
                form.add_error(
                    "file",
                    f"DSL version {record.imported_dsl_version} is newer than the supported "
                    f"{record.current_dsl_version}; import it with manage.py import_dsl "
                    "--allow-newer, or over the API (with a confirm)",
                )
            else:
                app = record.app
                assert app is not None
                self.log_addition(request, app, [{"added": {}}])
                self.message_user(
                    request, f"Imported {app.name} ({app.mode}) as {app.id}.", messages.SUCCESS
                )
                for warning in record.warnings:
                    self.message_user(request, f"Warning: {warning}", messages.WARNING)
                return HttpResponseRedirect(reverse("admin:apps_runtime_app_change", args=[app.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import an app from Dify DSL",
            "form": form,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/apps_runtime/app/import_dsl.html", context)

    def export_dsl_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        app = self.get_object(request, object_id)
        if app is None:
            raise Http404("app not found")
        if not self.has_view_permission(request, app):
            raise PermissionDenied
        try:
            return yaml_download(app)
        except DslError as exc:
            self.message_user(request, f"Export failed: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:apps_runtime_app_change", args=[app.pk]))
