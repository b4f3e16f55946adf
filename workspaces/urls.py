from django.urls import path, re_path

from config.api.schema import alias_view
from workspaces import views

urlpatterns = [
    path("workspaces", views.WorkspaceListView.as_view(), name="workspaces"),
    path(
        "workspaces/<str:workspace_id>/switch",
        views.WorkspaceSwitchView.as_view(),
        name="workspace-switch",
    ),
    re_path(
        r"^workspaces/(?P<workspace_id>[^/]+):switch$",
        alias_view(views.WorkspaceSwitchView, post="workspaces_switch_colon").as_view(),
        name="workspace-switch-colon",
    ),
    path("workspaces/<str:workspace_id>", views.WorkspaceDetailView.as_view(), name="workspace"),
]
