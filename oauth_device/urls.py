from django.urls import path

from oauth_device import views

urlpatterns = [
    path("oauth/device/code", views.DeviceCodeView.as_view(), name="oauth-device-code"),
    path("oauth/device/token", views.DeviceTokenView.as_view(), name="oauth-device-token"),
    path("oauth/device/lookup", views.DeviceLookupView.as_view(), name="oauth-device-lookup"),
    path("oauth/device/approve", views.DeviceApproveView.as_view(), name="oauth-device-approve"),
    path("oauth/device/deny", views.DeviceDenyView.as_view(), name="oauth-device-deny"),
]
