from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.login_throttle import login_throttled
from config import pages
from config.api import views as api_views
from oauth_device import pages as device_pages

handler500 = "config.api.views.server_error"

admin.site.site_header = "Dify API administration"
admin.site.site_title = "Dify API admin"
admin.site.site_url = "/"  # "View site" lands on the front door
# The app list is one click away (Home); without the sidebar, change lists fit 1280 pixels.
admin.site.enable_nav_sidebar = False

api_patterns: list[URLPattern | URLResolver] = [
    path("_health", api_views.HealthView.as_view(), name="health"),
    path("_version", api_views.VersionView.as_view(), name="version"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("accounts.urls")),
    path("", include("workspaces.urls")),
    path("", include("oauth_device.urls")),
    path("", include("sso.urls")),
    path("", include("apps_runtime.urls")),
    path("", include("uploads.urls")),
]

urlpatterns = [
    path("", pages.home, name="home"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("openapi/v1/", include(api_patterns)),
    # Anything else under /openapi/v1 (unknown paths, trailing slashes) is the envelope 404.
    re_path(r"^openapi/v1(?:/.*)?$", api_views.api_not_found),
    path(
        "accounts/login/",
        login_throttled(device_pages.LoginPage.as_view()),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The admin's own login, throttled like ours (it approves nothing, but it is a password form).
    path("admin/login/", login_throttled(admin.site.login)),
    path("admin/", admin.site.urls),
    path("", include("oauth_device.page_urls")),
    path("", include("workspaces.page_urls")),
    path("", include("apps_runtime.forms.page_urls")),
]
