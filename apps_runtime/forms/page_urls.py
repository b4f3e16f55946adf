from django.urls import path

from apps_runtime.forms import pages

urlpatterns = [
    path("forms/<str:token>", pages.FormPage.as_view(), name="human-input-form-page"),
]
