from django.urls import path

from config.api.aliases import alias_path
from workspaces import views

urlpatterns = [
    path("workspaces", views.WorkspaceListView.as_view(), name="workspaces"),
    path(
        "workspaces/<str:workspace_id>/switch",
        views.WorkspaceSwitchView.as_view(),
        name="workspace-switch",
    ),
    alias_path(
        r"^workspaces/(?P<workspace_id>[^/]+):switch$",
        views.WorkspaceSwitchView,
        name="workspace-switch-colon",
        post="workspaces_switch_colon",
    ),
    path("workspaces/<str:workspace_id>", views.WorkspaceDetailView.as_view(), name="workspace"),
    path(
        "workspaces/<str:workspace_id>/members",
        views.MemberListView.as_view(),
        name="workspace-members",
    ),
    path(
        "workspaces/<str:workspace_id>/members/<str:member_id>/role",
        views.MemberRoleView.as_view(),
        name="workspace-member-role",
    ),
    path(
        "workspaces/<str:workspace_id>/members/<str:member_id>",
        views.MemberDetailView.as_view(),
        name="workspace-member",
    ),
]
