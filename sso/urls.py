"""The device flow's SSO branch (contract §5 note), under ``/openapi/v1/oauth/device/``."""

from django.urls import path

from sso import views

urlpatterns = [
    path("oauth/device/sso-initiate", views.sso_initiate, name="oauth-device-sso-initiate"),
    path("oauth/device/sso-complete", views.sso_complete, name="oauth-device-sso-complete"),
    path(
        "oauth/device/approval-context",
        views.ApprovalContextView.as_view(),
        name="oauth-device-approval-context",
    ),
    path(
        "oauth/device/approve-external",
        views.ApproveExternalView.as_view(),
        name="oauth-device-approve-external",
    ),
]
