from django.urls import path

from accounts import views

urlpatterns = [
    path("account", views.AccountView.as_view(), name="account"),
    path("account/sessions", views.SessionListView.as_view(), name="account-sessions"),
    path(
        "account/sessions/self", views.SessionRevokeSelfView.as_view(), name="account-sessions-self"
    ),
    path(
        "account/sessions/<str:session_id>",
        views.SessionRevokeView.as_view(),
        name="account-session",
    ),
]
