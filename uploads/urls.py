from django.urls import URLPattern, re_path

from config.api.aliases import alias_path
from uploads import views

# Both paths are also listed in ``config/body_limit.py``'s upload routes (their own body limit).
UPLOAD_PATH_PATTERNS = (r"^apps/(?P<app_id>[^/]+)/files/upload$", r"^apps/(?P<app_id>[^/]+)/files$")

urlpatterns: list[URLPattern] = [
    re_path(UPLOAD_PATH_PATTERNS[0], views.FileUploadView.as_view(), name="app-files-upload"),
    # The later clients' path.
    alias_path(
        UPLOAD_PATH_PATTERNS[1], views.FileUploadView, name="app-files", post="apps_files_create"
    ),
]
