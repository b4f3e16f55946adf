from django.urls import path

from oauth_device import pages

urlpatterns = [
    path("device", pages.DeviceEntryPage.as_view(), name="device"),
    path("device/approve", pages.DeviceDecisionPage.as_view(approve=True), name="device-approve"),
    path("device/deny", pages.DeviceDecisionPage.as_view(approve=False), name="device-deny"),
]
