from django.urls import URLPattern, re_path

from apps_runtime.forms import views
from config.api.aliases import alias_path

# Tokens never hold a slash or a colon, so ``…/{token}:submit`` cannot be read as a token.
_APP = r"^apps/(?P<app_id>[^/]+)"
_TOKEN = r"(?P<form_token>[^/:]+)"

urlpatterns: list[URLPattern] = [
    re_path(
        rf"{_APP}/form/human_input/{_TOKEN}$", views.FormView.as_view(), name="human-input-form"
    ),
    # The later clients' paths: read at ``human-input-forms/{token}``, submit at ``…:submit``.
    alias_path(
        rf"{_APP}/human-input-forms/{_TOKEN}$",
        views.FormReadView,
        name="human-input-form-alias",
        get="apps_human_input_forms_get",
    ),
    alias_path(
        rf"{_APP}/human-input-forms/{_TOKEN}:submit$",
        views.FormSubmitView,
        name="human-input-form-submit",
        post="apps_human_input_forms_submit",
    ),
]
