from django.urls import path

from workspaces import pages

urlpatterns = [
    path("invite/<str:token>", pages.InvitationPage.as_view(), name="invite"),
    path(
        "invite/confirm/<str:token>",
        pages.AddressConfirmationPage.as_view(),
        name="invite-confirm",
    ),
]
