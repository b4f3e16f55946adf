from django.urls import path, re_path

from workspaces import views

urlpatterns = [
    path("workspaces", views.WorkspaceListView.as_view(), name="workspaces"),
    path("workspaces/<str:workspace_id>/switch", views.WorkspaceSwitchView.as_view(),
         name="workspace-switch"),
    re_path(r"^workspaces/(?P<workspace_id>[^/:]+):switch$", views.WorkspaceSwitchView.as_view(),
            name="workspace-switch-colon"),
    path("workspaces/<str:workspace_id>", views.WorkspaceDetailView.as_view(), name="workspace"),
]
