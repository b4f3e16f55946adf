from django.apps import AppConfig


class AppsRuntimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps_runtime"
