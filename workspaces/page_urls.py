from django.urls import path

from workspaces import pages

urlpatterns = [
    path("invite/<str:token>", pages.InvitationPage.as_view(), name="invite"),
]
