from django.apps import AppConfig


class OauthDeviceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oauth_device"
