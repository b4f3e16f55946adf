from django.urls import path

from oauth_device import sso, views

urlpatterns = [
    path("oauth/device/code", views.DeviceCodeView.as_view(), name="oauth-device-code"),
    path("oauth/device/token", views.DeviceTokenView.as_view(), name="oauth-device-token"),
    path("oauth/device/lookup", views.DeviceLookupView.as_view(), name="oauth-device-lookup"),
    path("oauth/device/approve", views.DeviceApproveView.as_view(), name="oauth-device-approve"),
    path("oauth/device/deny", views.DeviceDenyView.as_view(), name="oauth-device-deny"),
    path("oauth/device/sso-initiate", sso.sso_initiate, name="oauth-device-sso-initiate"),
    path("oauth/device/sso-complete", sso.sso_complete, name="oauth-device-sso-complete"),
    path(
        "oauth/device/approval-context",
        sso.ApprovalContextView.as_view(),
        name="oauth-device-approval-context",
    ),
    path(
        "oauth/device/approve-external",
        sso.ApproveExternalView.as_view(),
        name="oauth-device-approve-external",
    ),
]
