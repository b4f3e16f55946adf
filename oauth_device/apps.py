from django.apps import AppConfig


class OauthDeviceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oauth_device"
    verbose_name = "Device login"

    def ready(self) -> None:
        from config.housekeeping import register_task
        from oauth_device.services import device_grants_purge

        register_task("expired or consumed device grants purged", device_grants_purge)
