from django.urls import URLPattern, URLResolver, include, path, re_path

from apps_runtime import views
from apps_runtime.runs.views import TaskStopView
from apps_runtime.transfer import views as transfer_views
from config.api.aliases import alias_path

# ``[^/]+`` lets a name lookup carry any character but a slash; the bare ``/apps/{id}`` alias stops
# at a colon, which later clients use for verbs (``/apps/{id}:run``).
urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("apps_runtime.forms.urls")),
    path("apps", views.AppListView.as_view(), name="apps"),
    re_path(
        r"^apps/(?P<app_id>[^/]+)/describe$", views.AppDescribeView.as_view(), name="app-describe"
    ),
    # The later clients' path of describe.
    alias_path(r"^apps/(?P<app_id>[^/:]+)$", views.AppDescribeView, name="app", get="apps_get"),
    re_path(
        r"^apps/(?P<app_id>[^/]+)/export$",
        transfer_views.AppExportView.as_view(),
        name="app-export",
    ),
    # The later clients' path of export.
    alias_path(
        r"^apps/(?P<app_id>[^/]+)/dsl$",
        transfer_views.AppExportView,
        name="app-dsl",
        get="apps_dsl",
    ),
    re_path(
        r"^apps/(?P<app_id>[^/]+)/check-dependencies$",
        transfer_views.AppCheckDependenciesView.as_view(),
        name="app-check-dependencies",
    ),
    # The later clients' path of the dependency check.
    alias_path(
        r"^apps/(?P<app_id>[^/]+)/dependencies:check$",
        transfer_views.AppCheckDependenciesView,
        name="app-dependencies-check",
        get="apps_dependencies_check",
    ),
    path(
        "workspaces/<str:workspace_id>/apps/imports",
        transfer_views.AppImportView.as_view(),
        name="app-imports",
    ),
    path(
        "workspaces/<str:workspace_id>/apps/imports/<str:import_id>/confirm",
        transfer_views.AppImportConfirmView.as_view(),
        name="app-import-confirm",
    ),
    # The later clients' path of confirm.
    alias_path(
        r"^workspaces/(?P<workspace_id>[^/]+)/apps/imports/(?P<import_id>[^/:]+):confirm$",
        transfer_views.AppImportConfirmView,
        name="app-import-confirm-colon",
        post="apps_import_confirm_colon",
    ),
    path(
        "permitted-external-apps",
        views.PermittedExternalAppListView.as_view(),
        name="permitted-external-apps",
    ),
    # The era-A shape of the path.
    alias_path(
        r"^permitted-external-apps/(?P<app_id>[^/]+)/describe$",
        views.PermittedExternalAppDescribeView,
        name="permitted-external-app-describe",
        get="permitted_external_apps_describe",
    ),
    re_path(
        r"^permitted-external-apps/(?P<app_id>[^/:]+)$",
        views.PermittedExternalAppDescribeView.as_view(),
        name="permitted-external-app",
    ),
    re_path(
        r"^apps/(?P<app_id>[^/]+)/tasks/(?P<task_id>[^/:]+)/stop$",
        TaskStopView.as_view(),
        name="app-task-stop",
    ),
    alias_path(
        r"^apps/(?P<app_id>[^/]+)/tasks/(?P<task_id>[^/:]+):stop$",
        TaskStopView,
        name="app-task-stop-colon",
        post="app_task_stop_colon",
    ),
]
